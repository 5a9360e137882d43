using System.Diagnostics;
using System.Net;
using Imagebin.Infrastructure.Outbound;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Imagebin.Tests.Authority;

/// <summary>The SSRF-guarded outbound client: which addresses it reaches, which URLs it refuses, and its limits.</summary>
public sealed class GuardedHttpTests
{
    [Theory]
    // IPv4: this network, private, carrier-grade NAT, loopback, link-local (cloud metadata), IETF, documentation,
    // benchmarking, multicast, reserved, broadcast.
    [InlineData("0.0.0.0")]
    [InlineData("0.1.2.3")]
    [InlineData("10.0.0.1")]
    [InlineData("10.255.255.255")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.254")]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    [InlineData("169.254.0.1")]
    [InlineData("169.254.169.254")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.1")]
    [InlineData("192.88.99.1")]
    [InlineData("192.168.0.1")]
    [InlineData("192.168.255.255")]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.255")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.9")]
    [InlineData("224.0.0.1")]
    [InlineData("239.255.255.250")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    // IPv6: unspecified, loopback, IPv4-compatible, unique local, link-local, site-local, multicast, documentation,
    // Teredo, benchmarking, local-use NAT64, discard-only.
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::7f00:1")]
    [InlineData("::5db8:d822")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456:789a::1")]
    [InlineData("fe80::1")]
    [InlineData("febf::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("ff0e::1")]
    [InlineData("2001:db8::1")]
    [InlineData("3fff::1")]
    [InlineData("2001::1")]
    [InlineData("2001:2::1")]
    [InlineData("64:ff9b:1::a00:1")]
    [InlineData("100::1")]
    // IPv4 inside IPv6: mapped, NAT64 and 6to4 addresses of refused IPv4 addresses.
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("::ffff:0.0.0.0")]
    [InlineData("64:ff9b::127.0.0.1")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("64:ff9b::192.168.1.1")]
    [InlineData("2002:7f00:1::1")]
    [InlineData("2002:a9fe:a9fe::1")]
    public void IsPublic_RefusesAddressesThatAreNotGloballyReachable(string address) =>
        Assert.False(PublicAddresses.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("1.1.1.1")]
    [InlineData("8.8.8.8")]
    [InlineData("9.255.255.255")]
    [InlineData("11.0.0.0")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.0")]
    [InlineData("126.255.255.255")]
    [InlineData("128.0.0.0")]
    [InlineData("169.253.255.255")]
    [InlineData("169.255.0.0")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.0")]
    [InlineData("192.167.255.255")]
    [InlineData("192.169.0.0")]
    [InlineData("198.17.255.255")]
    [InlineData("198.20.0.0")]
    [InlineData("223.255.255.255")]
    [InlineData("2606:4700::1111")]
    [InlineData("2a00:1450:4001:82a::200e")]
    [InlineData("2001:4860:4860::8888")]
    [InlineData("::ffff:93.184.216.34")]
    [InlineData("64:ff9b::93.184.216.34")]
    [InlineData("2002:5db8:d822::1")]
    public void IsPublic_AcceptsGloballyReachableAddresses(string address) =>
        Assert.True(PublicAddresses.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://example.com/client.json", "only https URLs are fetched")]
    [InlineData("ftp://example.com/client.json", "only https URLs are fetched")]
    [InlineData("https://user:secret@example.com/client.json", "URLs with a user name or password are not fetched")]
    [InlineData("https://user@example.com/client.json", "URLs with a user name or password are not fetched")]
    [InlineData("https://example.com/client.json#top", "URLs with a fragment are not fetched")]
    [InlineData("https://127.0.0.1/client.json", "the address 127.0.0.1 is not public")]
    [InlineData("https://2130706433/client.json", "the address 127.0.0.1 is not public")]
    [InlineData("https://0x7f.1/client.json", "the address 127.0.0.1 is not public")]
    [InlineData("https://[::1]/client.json", "the address [::1] is not public")]
    [InlineData("https://[::ffff:127.0.0.1]/client.json", "the address [::ffff:127.0.0.1] is not public")]
    [InlineData("https://169.254.169.254/latest/meta-data", "the address 169.254.169.254 is not public")]
    [InlineData("https://[64:ff9b::a9fe:a9fe]/latest/meta-data", "the address [64:ff9b::a9fe:a9fe] is not public")]
    [InlineData("https://10.0.0.1/client.json", "the address 10.0.0.1 is not public")]
    [InlineData("https://[fd00::1]/client.json", "the address [fd00::1] is not public")]
    [InlineData("https://0.0.0.0/client.json", "the address 0.0.0.0 is not public")]
    public async Task GetAsync_RefusesTheUrl_BeforeAnyConnection(string url, string reason)
    {
        using var http = new GuardedHttp(Options.Create(new OutboundOptions()));

        Assert.Equal(reason, http.RefuseUrl(new Uri(url)));
        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(url), "application/json", 1024, default));
        Assert.Equal(reason, refusal.Message);
    }

    [Fact]
    public void RefuseUrl_RefusesRelativeUrls_AndAllowsHttpOnlyWhenConfigured()
    {
        using var strict = new GuardedHttp(Options.Create(new OutboundOptions()));
        using var lenient = new GuardedHttp(Options.Create(new OutboundOptions { AllowHttp = true }));

        Assert.Equal("the URL is not absolute", strict.RefuseUrl(new Uri("/client.json", UriKind.Relative)));
        Assert.Null(strict.RefuseUrl(new Uri("https://example.com/client.json")));
        Assert.Null(lenient.RefuseUrl(new Uri("http://example.com/client.json")));
        Assert.Equal("only http and https URLs are fetched", lenient.RefuseUrl(new Uri("file:///etc/passwd")));
        Assert.Equal("the address 127.0.0.1 is not public", lenient.RefuseUrl(new Uri("http://127.0.0.1/")));
    }

    [Fact]
    public async Task GetAsync_Localhost_IsRefusedAfterResolvingIt_WithoutAnyRequest()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.MapJson("/client.json", "{}");
        using var http = TestHttpsServer.Client(allowPrivateAddresses: false);
        var url = new Uri($"https://localhost:{server.Port}/client.json");

        Assert.Null(http.RefuseUrl(url));
        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(url, "application/json", 1024, default));

        Assert.Matches("^the address (127\\.0\\.0\\.1|::1) is not public$", refusal.Message);
        Assert.Equal(0, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_PrivateServer_IsRefusedBeforeConnecting_UnlessPrivateAddressesAreAllowed()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.MapJson("/client.json", """{"ok": true}""");
        using var guarded = TestHttpsServer.Client(allowPrivateAddresses: false);
        using var allowed = TestHttpsServer.Client(allowPrivateAddresses: true);

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => guarded.GetAsync(new Uri(server.Url("/client.json")), "application/json", 1024, default));
        Assert.Equal("the address 127.0.0.1 is not public", refusal.Message);
        Assert.Equal(0, server.TotalHits);

        var response = await allowed.GetAsync(new Uri(server.Url("/client.json")), "application/json", 1024, default);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"ok": true}""", System.Text.Encoding.UTF8.GetString(response.Body));
        Assert.Equal(1, server.TotalHits);
    }

    [Fact]
    public async Task GetAsync_SendsAccept_AndNoCookiesOrCompressionRequest()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.MapJson("/client.json", "{}");
        using var http = TestHttpsServer.Client();

        await http.GetAsync(new Uri(server.Url("/client.json")), "application/json", 1024, default);

        var headers = Assert.Single(server.RequestHeaders);
        Assert.Equal("application/json", headers["Accept"]);
        Assert.Equal("Imagebin", headers["User-Agent"]);
        Assert.False(headers.ContainsKey("Cookie"));
        Assert.False(headers.ContainsKey("Accept-Encoding"));
        Assert.False(headers.ContainsKey("Authorization"));
    }

    [Fact]
    public async Task GetAsync_WithPlatformCertificateValidation_RefusesAnUntrustedCertificate()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.MapJson("/client.json", "{}");
        using var http = new GuardedHttp(Options.Create(new OutboundOptions { AllowPrivateAddresses = true }));

        var failure = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/client.json")), "application/json", 1024, default));

        Assert.Equal($"the TLS handshake with 127.0.0.1:{server.Port} failed", failure.Message);
        Assert.Equal(0, server.TotalHits);
    }

    [Theory]
    [InlineData(StatusCodes.Status301MovedPermanently)]
    [InlineData(StatusCodes.Status302Found)]
    [InlineData(StatusCodes.Status307TemporaryRedirect)]
    [InlineData(StatusCodes.Status308PermanentRedirect)]
    public async Task GetAsync_Redirect_IsRefused_AndItsLocationNotFetched(int status)
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/moved", context =>
        {
            context.Response.StatusCode = status;
            context.Response.Headers.Location = server.Url("/target");
            return Task.CompletedTask;
        });
        server.MapJson("/target", "{}");
        using var http = TestHttpsServer.Client();

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/moved")), "application/json", 1024, default));

        Assert.Equal("redirects are not followed", refusal.Message);
        Assert.Equal(1, server.Hits("/moved"));
        Assert.Equal(0, server.Hits("/target"));
    }

    [Fact]
    public async Task GetAsync_ErrorStatus_IsReturned_WithoutItsBody()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/gone", async context =>
        {
            context.Response.StatusCode = StatusCodes.Status410Gone;
            await context.Response.WriteAsync(new string('x', 100_000));
        });
        using var http = TestHttpsServer.Client();

        var response = await http.GetAsync(new Uri(server.Url("/gone")), "application/json", 1024, default);

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Empty(response.Body);
    }

    [Fact]
    public async Task GetAsync_BodyAtTheLimit_IsRead_OneByteMoreIsRefused()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.MapJson("/exact", new string('a', 1024));
        server.MapJson("/over", new string('a', 1025));
        using var http = TestHttpsServer.Client();

        var response = await http.GetAsync(new Uri(server.Url("/exact")), "application/json", 1024, default);
        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/over")), "application/json", 1024, default));

        Assert.Equal(1024, response.Body.Length);
        Assert.Equal("larger than 1 KiB", refusal.Message);
    }

    [Fact]
    public async Task GetAsync_ChunkedBodyWithoutContentLength_IsCutOffAtTheLimit()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/chunked", async context =>
        {
            context.Response.ContentType = "application/json";
            for (var i = 0; i < 6; i++)
            {
                await context.Response.WriteAsync(new string('a', 1024));
                await context.Response.Body.FlushAsync();
            }
        });
        using var http = TestHttpsServer.Client();

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/chunked")), "application/json", 5 * 1024, default));

        Assert.Equal("larger than 5 KiB", refusal.Message);
    }

    [Fact]
    public async Task GetAsync_EndlessBody_IsRefusedAsSoonAsTheLimitPasses()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/endless", async context =>
        {
            context.Response.ContentType = "application/json";
            var chunk = new byte[4096];
            while (!context.RequestAborted.IsCancellationRequested)
            {
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
        });
        using var http = TestHttpsServer.Client(timeoutSeconds: 30);
        var clock = Stopwatch.StartNew();

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/endless")), "application/json", 64 * 1024, default));

        Assert.Equal("larger than 64 KiB", refusal.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task GetAsync_LyingContentLength_IsRefusedAtOnce()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/big", async context =>
        {
            context.Response.ContentLength = 10 * 1024 * 1024;
            await context.Response.WriteAsync("{}");
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
        });
        using var http = TestHttpsServer.Client(timeoutSeconds: 30);

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/big")), "application/json", 5000, default));

        Assert.Equal("larger than 5000 bytes", refusal.Message);
    }

    [Fact]
    public async Task GetAsync_SlowHeaders_TimeOut()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/slow", async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            await context.Response.WriteAsync("{}");
        });
        using var http = TestHttpsServer.Client(timeoutSeconds: 1);
        var clock = Stopwatch.StartNew();

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/slow")), "application/json", 1024, default));

        Assert.Equal("timed out after 1 s", refusal.Message);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task GetAsync_SlowBody_TimesOut_TheDeadlineCoversTheWholeExchange()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/trickle", async context =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("{\"a\":");
            await context.Response.Body.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            await context.Response.WriteAsync("1}");
        });
        using var http = TestHttpsServer.Client(timeoutSeconds: 1);

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri(server.Url("/trickle")), "application/json", 1024, default));

        Assert.Equal("timed out after 1 s", refusal.Message);
    }

    [Fact]
    public async Task GetAsync_CallerCancellation_IsNotReportedAsATimeout()
    {
        await using var server = await TestHttpsServer.StartAsync();
        server.Map("/slow", context => Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted));
        using var http = TestHttpsServer.Client(timeoutSeconds: 30);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => http.GetAsync(new Uri(server.Url("/slow")), "application/json", 1024, cancel.Token));
    }

    [Fact]
    public async Task GetAsync_ConnectionRefused_IsAShortReason()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        using var http = TestHttpsServer.Client();

        var failure = await Assert.ThrowsAsync<OutboundException>(() => http.GetAsync(new Uri($"https://127.0.0.1:{port}/client.json"), "application/json", 1024, default));

        Assert.Equal($"could not connect to 127.0.0.1:{port}", failure.Message);
    }

    [Fact]
    public async Task ReadBodyAsync_ReadsUpToTheLimit_AndRefusesOneByteMore()
    {
        using var content = new StreamContent(new MemoryStream(new byte[2049]));
        using var exact = new StreamContent(new MemoryStream(new byte[2048]));

        var refusal = await Assert.ThrowsAsync<OutboundException>(() => GuardedHttp.ReadBodyAsync(content, 2048, default));
        Assert.Equal("larger than 2 KiB", refusal.Message);
        Assert.Equal(2048, (await GuardedHttp.ReadBodyAsync(exact, 2048, default)).Length);
    }
}
