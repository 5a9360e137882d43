using System.Net;
using System.Text.RegularExpressions;
using Imagebin.Features.Accounts;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Support;

/// <summary>
/// An HTTP client that behaves like a browser signed in through the form: it keeps the session and anti-forgery cookies,
/// and knows the anti-forgery token the site's pages hand their scripts (<c>&lt;meta name="csrf-token"&gt;</c>).
/// </summary>
public sealed partial class SignedInBrowser(HttpClient client, string csrfToken) : IDisposable
{
    public HttpClient Client { get; } = client;

    /// <summary>The token of the last page read, for <c>x-csrf-token</c>.</summary>
    public string CsrfToken { get; private set; } = csrfToken;

    /// <summary>Creates the account (an admin if asked) through the services and signs in through the form.</summary>
    public static async Task<SignedInBrowser> SignInAsync(ImagebinApp app, string account = "alice", bool admin = false)
    {
        const string password = "correct horse battery";
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            if (await accounts.FindByNameAsync(account, CancellationToken.None) is null)
            {
                await accounts.CreateAsync(account, admin, password, CancellationToken.None);
            }
        }

        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        await new OAuthFlow(client, app.Anonymous()).SignInAsync(account, password);
        var browser = new SignedInBrowser(client, "");
        await browser.ReadPageAsync("/docs");
        return browser;
    }

    /// <summary>Reads a page and keeps its anti-forgery token; fails if the page shows no one signed in.</summary>
    public async Task<string> ReadPageAsync(string path)
    {
        using var response = await Client.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {html}");
        CsrfToken = CsrfMeta().Match(html) is { Success: true } match
            ? WebUtility.HtmlDecode(match.Groups[1].Value)
            : throw new InvalidOperationException($"{path} has no csrf-token meta: not signed in?\n{html}");
        return html;
    }

    /// <summary>A request as the site's scripts send it: same origin, with the token in <c>x-csrf-token</c>.</summary>
    public HttpRequestMessage Request(HttpMethod method, string path, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Add(BrowserSessions.CsrfHeader, CsrfToken);
        request.Headers.Add("Sec-Fetch-Site", "same-origin");
        return request;
    }

    public void Dispose() => Client.Dispose();

    [GeneratedRegex("<meta name=\"csrf-token\" content=\"([^\"]+)\">")]
    private static partial Regex CsrfMeta();
}
