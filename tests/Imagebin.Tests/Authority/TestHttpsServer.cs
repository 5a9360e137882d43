using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Imagebin.Infrastructure.Outbound;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Imagebin.Tests.Authority;

/// <summary>
/// An https server on 127.0.0.1 with a self-signed certificate made here, answering each path as the test says and
/// counting every request it sees (also those to paths it does not know, which get a 404).
/// </summary>
public sealed class TestHttpsServer : IAsyncDisposable
{
    private static readonly Lazy<X509Certificate2> LazyCertificate = new(CreateCertificate);

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<HttpContext, Task>> _handlers = new();
    private readonly ConcurrentDictionary<string, int> _hits = new();

    private TestHttpsServer(WebApplication app) => _app = app;

    /// <summary>For 127.0.0.1, [::1] and localhost, valid for a day.</summary>
    public static X509Certificate2 Certificate => LazyCertificate.Value;

    /// <summary>e.g. <c>https://127.0.0.1:41234</c>.</summary>
    public string BaseUrl { get; private set; } = "";

    public int Port => new Uri(BaseUrl).Port;

    public int TotalHits => _hits.Values.Sum();

    /// <summary>Each request's headers, copied (Kestrel reuses its own dictionary).</summary>
    public ConcurrentQueue<Dictionary<string, string>> RequestHeaders { get; } = new();

    public static async Task<TestHttpsServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(Certificate)));
        var app = builder.Build();
        var server = new TestHttpsServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return server;
    }

    /// <summary>
    /// A guarded client that trusts <see cref="Certificate"/> (still checking that it names the host), allowing private
    /// addresses unless told otherwise.
    /// </summary>
    public static GuardedHttp Client(bool allowPrivateAddresses = true, int timeoutSeconds = 5) =>
        new(new OutboundOptions { AllowPrivateAddresses = allowPrivateAddresses, TimeoutSeconds = timeoutSeconds }, TrustTestCertificate);

    public static bool TrustTestCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        errors == SslPolicyErrors.RemoteCertificateChainErrors
        && certificate is not null && certificate.GetCertHashString() == Certificate.GetCertHashString();

    public string Url(string path) => BaseUrl + path;

    public void Map(string path, Func<HttpContext, Task> handler) => _handlers[path] = handler;

    public void MapJson(string path, string json, string contentType = "application/json", string? cacheControl = null) =>
        Map(path, async context =>
        {
            context.Response.ContentType = contentType;
            if (cacheControl is not null)
            {
                context.Response.Headers.CacheControl = cacheControl;
            }

            await context.Response.WriteAsync(json);
        });

    public int Hits(string path) => _hits.GetValueOrDefault(path);

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        _hits.AddOrUpdate(path, 1, (_, count) => count + 1);
        RequestHeaders.Enqueue(context.Request.Headers.ToDictionary(
            header => header.Key, header => header.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        if (_handlers.TryGetValue(path, out var handler))
        {
            await handler(context);
        }
        else
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
        }
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddIpAddress(IPAddress.IPv6Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12, so the key is one SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
