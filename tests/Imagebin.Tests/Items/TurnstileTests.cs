using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Imagebin.Data;
using Imagebin.Infrastructure;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Imagebin.Tests.Items;

/// <summary>
/// Cloudflare Turnstile in place of the proof of work (<c>Challenge:Turnstile:*</c>). Cloudflare is an edge we cannot run
/// here, so a small siteverify stand-in on loopback answers as Cloudflare documents it; the real client code calls it over
/// HTTP.
/// </summary>
public sealed class TurnstileTests : IAsyncLifetime
{
    private const string Secret = SiteverifyStandIn.Secret;

    private SiteverifyStandIn? _siteverify;

    private ConcurrentQueue<Dictionary<string, string>> _calls => _siteverify!.Calls;

    public async ValueTask InitializeAsync() => _siteverify = await SiteverifyStandIn.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_siteverify is not null)
        {
            await _siteverify.DisposeAsync();
        }
    }

    private ImagebinApp App(string? verifyUrl = null) => new(settings: _siteverify!.Settings(verifyUrl is null ? null : new() { ["Challenge:Turnstile:VerifyUrl"] = verifyUrl }));

    private static Task<HttpResponseMessage> UploadAsync(ImagebinApp app, string? token, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        if (token is not null)
        {
            request.Headers.Add("cf-turnstile-response", token);
        }

        configure?.Invoke(request);
        return app.Anonymous().SendAsync(request);
    }

    private static async Task AssertNothingStoredAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        Assert.Equal(0, await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.CountAsync());
        Assert.Empty(app.BlobFiles());
        Assert.Empty(app.TempFiles());
    }

    [Fact]
    public async Task Upload_WithAVerifiedToken_IsAnAnonymousUpload()
    {
        await using var app = App();

        using var response = await UploadAsync(app, "good");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var item = await response.JsonAsync();
        Assert.StartsWith($"{ImagebinApp.BaseUrl}/delete/", item.GetProperty("delete_url").GetString());
        var call = Assert.Single(_calls);
        Assert.Equal(Secret, call["secret"]);
        Assert.Equal("good", call["response"]);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("duplicate")]
    [InlineData("other-site")]
    [InlineData("teapot")]
    public async Task Upload_WithoutAVerifiedToken_IsTurnstileFailed_AndStoresNothing(string? token)
    {
        await using var app = App();

        using var response = await UploadAsync(app, token);

        await response.AssertErrorAsync(403, ErrorCodes.TurnstileFailed);
        await AssertNothingStoredAsync(app);
    }

    [Fact]
    public async Task Upload_WhenSiteverifyIsUnreachable_IsRefused()
    {
        // A port nothing listens on: bound and released at once.
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var app = App($"http://127.0.0.1:{port}/siteverify");

        using var response = await UploadAsync(app, "good");

        await response.AssertErrorAsync(403, ErrorCodes.TurnstileFailed);
        await AssertNothingStoredAsync(app);
    }

    [Fact]
    public async Task ProofOfWork_IsNotEnough_WhenTurnstileIsConfigured()
    {
        await using var app = App();
        using var anonymous = app.Anonymous();
        using var challengeResponse = await anonymous.GetAsync("/api/v1/uploads/challenge");
        var challenge = await challengeResponse.JsonAsync();

        using var response = await UploadAsync(app, null, request =>
        {
            request.Headers.Add("x-challenge-id", challenge.GetProperty("challenge_id").GetString());
            request.Headers.Add("x-challenge-nonce", PowSolver.Solve(challenge));
        });

        await response.AssertErrorAsync(403, ErrorCodes.TurnstileFailed);
        Assert.Empty(_calls);
    }

    [Fact]
    public async Task HomePage_ShowsTheWidget_ToVisitorsWithoutAnAccount_AndAllowsOnlyCloudflaresOrigin()
    {
        await using var app = App();
        using var anonymous = app.Anonymous();
        using var browser = await SignedInBrowser.SignInAsync(app, "olga");

        using var visitorPage = await anonymous.GetAsync("/");
        using var memberPage = await browser.Client.GetAsync("/");
        var visitorHtml = await visitorPage.Content.ReadAsStringAsync();
        var memberHtml = await memberPage.Content.ReadAsStringAsync();
        var visitorPolicy = visitorPage.Headers.GetValues("Content-Security-Policy").Single();
        var memberPolicy = memberPage.Headers.GetValues("Content-Security-Policy").Single();

        Assert.Contains($"<div class=\"cf-turnstile\" data-sitekey=\"{SiteverifyStandIn.SiteKey}\"></div>", visitorHtml);
        Assert.Contains("data-turnstile=\"true\"", visitorHtml);
        Assert.Contains("<script src=\"https://challenges.cloudflare.com/turnstile/v0/api.js\" defer></script>", visitorHtml);
        Assert.Contains("script-src 'self' https://challenges.cloudflare.com;", visitorPolicy);
        Assert.Contains("frame-src https://challenges.cloudflare.com;", visitorPolicy);
        Assert.DoesNotContain("unsafe", visitorPolicy);
        Assert.DoesNotContain("cf-turnstile", memberHtml);
        Assert.DoesNotContain("cloudflare", memberPolicy);
    }

    [Fact]
    public async Task HomePage_WithoutTurnstile_LoadsNothingFromCloudflare()
    {
        await using var app = new ImagebinApp();

        using var page = await app.Anonymous().GetAsync("/");
        var html = await page.Content.ReadAsStringAsync();

        Assert.DoesNotContain("cf-turnstile", html);
        Assert.DoesNotContain("cloudflare", page.Headers.GetValues("Content-Security-Policy").Single());
    }
}
