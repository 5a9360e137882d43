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
    private const string Secret = "0x4AAAAAAA-test-secret";

    private WebApplication? _siteverify;
    private string _verifyUrl = "";

    /// <summary>The forms siteverify received.</summary>
    private readonly ConcurrentQueue<Dictionary<string, string>> _calls = new();

    public async ValueTask InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _siteverify = builder.Build();
        _siteverify.MapPost("/turnstile/v0/siteverify", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            _calls.Enqueue(form.ToDictionary(f => f.Key, f => f.Value.ToString()));
            var ok = form["secret"] == Secret;
            return form["response"].ToString() switch
            {
                "good" when ok => Results.Json(new { success = true, hostname = "localhost", action = "upload" }),
                "other-site" when ok => Results.Json(new { success = true, hostname = "evil.example" }),
                "teapot" => Results.StatusCode(500),
                _ => Results.Json(new Dictionary<string, object> { ["success"] = false, ["error-codes"] = new[] { "timeout-or-duplicate" } }),
            };
        });
        await _siteverify.StartAsync();
        var address = _siteverify.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        _verifyUrl = address.TrimEnd('/') + "/turnstile/v0/siteverify";
    }

    public async ValueTask DisposeAsync()
    {
        if (_siteverify is not null)
        {
            await _siteverify.DisposeAsync();
        }
    }

    private ImagebinApp App(string? verifyUrl = null) => new(settings: new Dictionary<string, string?>
    {
        ["Challenge:Turnstile:SiteKey"] = "0x4AAAAAAA-site-key",
        ["Challenge:Turnstile:Secret"] = Secret,
        ["Challenge:Turnstile:VerifyUrl"] = verifyUrl ?? _verifyUrl,
    });

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
}
