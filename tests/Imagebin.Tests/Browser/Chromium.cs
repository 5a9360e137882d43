using System.Net;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// Debian's Chromium (<c>/usr/bin/chromium</c>, the <c>chromium</c> package that test.sh installs) driven by Playwright for
/// .NET, headless, one browser per test class; each test opens its own context, so tests share no cookies or storage.
/// Playwright's own browsers are never downloaded.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>Generous: CI machines are slow and a browser test must fail on a defect, not on a busy runner.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// No sandbox (tests run as root), no GPU, and none of Chromium's own traffic (updates, sync, QUIC, Google's hosts):
    /// the machines that run the tests have no network beyond loopback.
    /// </summary>
    private static readonly string[] Arguments =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Chromium has not started.");

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium package (./test.sh does).");
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = Arguments,
            Timeout = (float)Timeout.TotalMilliseconds,
        });
    }

    /// <summary>A fresh context (no cookies) of the given viewport size, with generous timeouts.</summary>
    public async Task<IBrowserContext> NewContextAsync(int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            Locale = "en-GB",
        });
        context.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        context.SetDefaultNavigationTimeout((float)Timeout.TotalMilliseconds);
        return context;
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>
/// An Imagebin on the embedded backend served by Kestrel on a free loopback port, for a browser (the in-memory
/// TestServer of <see cref="ImagebinApp"/> has no socket). Its public base URL is that address, so every link it writes
/// points back at it, and its pages' API calls are same-origin as the session rules require.
/// </summary>
public sealed class LiveSite : IAsyncDisposable
{
    private LiveSite(ImagebinApp app, string baseUrl)
    {
        App = app;
        BaseUrl = baseUrl;
    }

    public ImagebinApp App { get; }

    /// <summary>The site's origin, <c>http://127.0.0.1:PORT</c>, without a trailing slash; also its public base URL.</summary>
    public string BaseUrl { get; }

    public static LiveSite Start(Dictionary<string, string?>? settings = null)
    {
        // The port must be known before the app is built, to be its public base: taken from the system, then released.
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var baseUrl = $"http://127.0.0.1:{port}";
        var app = new ImagebinApp(settings: new Dictionary<string, string?>(settings ?? []) { ["Imagebin:PublicBaseUrl"] = baseUrl });
        app.UseKestrel(options => options.Listen(IPAddress.Loopback, port));
        app.StartServer();
        return new LiveSite(app, baseUrl);
    }

    /// <summary>Creates the account (an admin if asked) and signs it in through the form in <paramref name="context"/>.</summary>
    public async Task SignInAsync(IBrowserContext context, string account = "alice", bool admin = false, string password = "correct horse battery")
    {
        await using (var scope = App.Services.CreateAsyncScope())
        {
            var accounts = scope.ServiceProvider.GetRequiredService<Imagebin.Features.Accounts.AccountService>();
            if (await accounts.FindByNameAsync(account, CancellationToken.None) is null)
            {
                await accounts.CreateAsync(account, admin, password, CancellationToken.None);
            }
        }

        var page = await context.NewPageAsync();
        await page.GotoAsync(Url("/account/signin"));
        await page.Locator("#name").FillAsync(account);
        await page.Locator("#password").FillAsync(password);
        await page.Locator("main button[type=submit]").ClickAsync();
        // Signed in once the dashboard's document is there; its thumbnails are not what callers need.
        await page.WaitForURLAsync(Url("/dashboard"), new() { WaitUntil = WaitUntilState.DOMContentLoaded });
        await page.CloseAsync();
    }

    public string Url(string path) => BaseUrl + path;

    public ValueTask DisposeAsync() => App.DisposeAsync();
}
