using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Imagebin.Tests.Support;

/// <summary>
/// Cloudflare Turnstile's siteverify as Cloudflare documents it, on loopback: Cloudflare is an edge the test machines
/// cannot reach, so Imagebin's real client calls this over HTTP. Token <c>good</c> passes for <see cref="Hostname"/>,
/// <c>other-site</c> passes for another host, <c>teapot</c> gets a 500, anything else (or a wrong secret) fails as used.
/// </summary>
public sealed class SiteverifyStandIn : IAsyncDisposable
{
    public const string Secret = "0x4AAAAAAA-test-secret";

    public const string SiteKey = "0x4AAAAAAA-site-key";

    private readonly WebApplication _app;

    private SiteverifyStandIn(WebApplication app, string hostname)
    {
        _app = app;
        Hostname = hostname;
    }

    /// <summary>The host name a good token is reported for (the site's own).</summary>
    public string Hostname { get; }

    public string VerifyUrl { get; private set; } = "";

    /// <summary>The forms siteverify received.</summary>
    public ConcurrentQueue<Dictionary<string, string>> Calls { get; } = new();

    public static async Task<SiteverifyStandIn> StartAsync(string hostname = "localhost")
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var standIn = new SiteverifyStandIn(app, hostname);
        app.MapPost("/turnstile/v0/siteverify", standIn.VerifyAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        standIn.VerifyUrl = address.TrimEnd('/') + "/turnstile/v0/siteverify";
        return standIn;
    }

    /// <summary>The settings that make an Imagebin use this stand-in, with <paramref name="more"/> over them.</summary>
    public Dictionary<string, string?> Settings(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Challenge:Turnstile:SiteKey"] = SiteKey,
            ["Challenge:Turnstile:Secret"] = Secret,
            ["Challenge:Turnstile:VerifyUrl"] = VerifyUrl,
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    private async Task<IResult> VerifyAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        Calls.Enqueue(form.ToDictionary(f => f.Key, f => f.Value.ToString()));
        var ok = form["secret"] == Secret;
        return form["response"].ToString() switch
        {
            "good" when ok => Results.Json(new { success = true, hostname = Hostname, action = "upload" }),
            "other-site" when ok => Results.Json(new { success = true, hostname = "evil.example" }),
            "teapot" => Results.StatusCode(500),
            _ => Results.Json(new Dictionary<string, object> { ["success"] = false, ["error-codes"] = new[] { "timeout-or-duplicate" } }),
        };
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
