using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.WebUtilities;

namespace Imagebin.Tests.Support;

/// <summary>
/// Drives the authority the way a browser and an OAuth client do, over HTTP only: registration, the authorization
/// request with PKCE, the sign-in form, the consent form, and the token endpoint. Every step is a public method so that
/// a test can stop at any of them and send something wrong instead.
/// </summary>
public sealed partial class OAuthFlow(HttpClient browser, HttpClient client)
{
    public const string RedirectUri = "http://127.0.0.1:53682/callback";

    /// <summary>The browser: follows no redirects itself, keeps cookies (the session, the anti-forgery cookie).</summary>
    public HttpClient Browser { get; } = browser;

    /// <summary>The OAuth client's own connection: no cookies.</summary>
    public HttpClient Client { get; } = client;

    public static OAuthFlow For(ImagebinApp app) => new(
        app.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true }),
        app.Anonymous());

    /// <summary>A browser and client against a real process, e.g. an authority node.</summary>
    public static OAuthFlow For(Uri baseAddress) => new(
        new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() }) { BaseAddress = baseAddress },
        new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = baseAddress });

    public sealed record Pkce(string Verifier, string Challenge)
    {
        public static Pkce Create()
        {
            var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
            return new Pkce(verifier, Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
        }
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async Task<string> RegisterAsync(string redirectUri = RedirectUri, string name = "Test client")
    {
        using var response = await Client.PostAsJsonAsync("/oauth/register", new Dictionary<string, object>
        {
            ["client_name"] = name,
            ["redirect_uris"] = new[] { redirectUri },
            ["token_endpoint_auth_method"] = "none",
            ["grant_types"] = new[] { "authorization_code", "refresh_token" },
            ["response_types"] = new[] { "code" },
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("client_id").GetString()!;
    }

    public static string AuthorizeUrl(
        string clientId, Pkce? pkce, string scope = "image:create image:read image:delete", string? resource = null,
        string redirectUri = RedirectUri, string method = "S256", string state = "st4te")
    {
        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = scope,
            ["state"] = state,
        };
        if (pkce is not null)
        {
            query["code_challenge"] = method == "plain" ? pkce.Verifier : pkce.Challenge;
            query["code_challenge_method"] = method;
        }

        if (resource is not null)
        {
            query["resource"] = resource;
        }

        return QueryHelpers.AddQueryString("/oauth/authorize", query);
    }

    /// <summary>Signs in through the form (the session cookie stays in <see cref="Browser"/>).</summary>
    public async Task SignInAsync(string name, string password)
    {
        var page = await Browser.GetAsync("/account/signin");
        if (page.StatusCode == HttpStatusCode.Redirect)
        {
            // Already signed in: the form sends the visitor on, so sign out first (the account may be another one).
            page.Dispose();
            var signedIn = await Browser.GetStringAsync("/docs");
            using var signOut = await Browser.PostAsync("/account/signout", new FormUrlEncodedContent(new Dictionary<string, string> { ["csrf"] = Csrf(signedIn) }));
            Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
            page = await Browser.GetAsync("/account/signin");
        }

        using var form = page;
        var html = await page.Content.ReadAsStringAsync();
        using var response = await Browser.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = Csrf(html),
            ["name"] = name,
            ["password"] = password,
            ["return_url"] = "/",
        }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    /// <summary>Creates an account through the sign-up form; the browser is signed in as it afterwards.</summary>
    public async Task SignUpAsync(string name, string password)
    {
        using var page = await Browser.GetAsync("/account/signup");
        var html = await page.Content.ReadAsStringAsync();
        using var response = await Browser.PostAsync("/account/signup", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = Csrf(html),
            ["name"] = name,
            ["password"] = password,
            ["return_url"] = "/",
        }));
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Opens the authorization URL and answers the consent page; returns the redirect the browser is sent to.</summary>
    public async Task<Uri> ConsentAsync(string authorizeUrl, bool approve = true, IEnumerable<string>? grant = null)
    {
        using var consent = await Browser.GetAsync(authorizeUrl);
        if (consent.StatusCode != HttpStatusCode.OK)
        {
            return Redirect(consent);
        }

        // The consent form's own fields: the header's sign-out form has a hidden csrf too.
        var html = await consent.Content.ReadAsStringAsync();
        html = html[html.IndexOf("<main", StringComparison.Ordinal)..];
        var form = HiddenInputs().Matches(html).Select(m => new KeyValuePair<string, string>(WebUtility.HtmlDecode(m.Groups[1].Value), WebUtility.HtmlDecode(m.Groups[2].Value))).ToList();
        var scopes = grant ?? ScopeBoxes().Matches(html).Select(m => WebUtility.HtmlDecode(m.Groups[1].Value));
        form.AddRange(scopes.Select(s => new KeyValuePair<string, string>("granted_scope", s)));
        form.Add(new("consent", approve ? "approve" : "deny"));
        using var response = await Browser.PostAsync("/oauth/authorize", new FormUrlEncodedContent(form));
        return Redirect(response);
    }

    /// <summary>Signs in as <paramref name="account"/> and approves; returns the authorization code.</summary>
    public async Task<string> AuthorizeAsync(string clientId, Pkce pkce, string? account = "alice", string password = "correct horse battery",
        string scope = "image:create image:read image:delete", string? resource = null)
    {
        if (account is not null)
        {
            await SignInAsync(account, password);
        }

        var redirect = await ConsentAsync(AuthorizeUrl(clientId, pkce, scope, resource));
        var query = QueryHelpers.ParseQuery(redirect.Query);
        Assert.True(query.ContainsKey("code"), $"no code in {redirect}");
        Assert.Equal("st4te", query["state"].ToString());
        return query["code"].ToString();
    }

    public Task<HttpResponseMessage> TokenAsync(Dictionary<string, string> form, string? dpopProof = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/oauth/token") { Content = new FormUrlEncodedContent(form) };
        if (dpopProof is not null)
        {
            request.Headers.Add("DPoP", dpopProof);
        }

        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> RedeemCodeAsync(string clientId, string code, string verifier, string redirectUri = RedirectUri, string? dpopProof = null) =>
        TokenAsync(new()
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = clientId,
            ["code"] = code,
            ["code_verifier"] = verifier,
            ["redirect_uri"] = redirectUri,
        }, dpopProof);

    public Task<HttpResponseMessage> RefreshAsync(string clientId, string refreshToken, string? dpopProof = null) =>
        TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = clientId, ["refresh_token"] = refreshToken }, dpopProof);

    /// <summary>Everything at once: register, authorize, redeem; returns the client id and the token response.</summary>
    public async Task<(string ClientId, JsonElement Tokens)> FullAsync(string account = "alice", string? resource = null, string scope = "image:create image:read image:delete")
    {
        var clientId = await RegisterAsync();
        var pkce = Pkce.Create();
        var code = await AuthorizeAsync(clientId, pkce, account, scope: scope, resource: resource);
        using var response = await RedeemCodeAsync(clientId, code, pkce.Verifier);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (clientId, await response.JsonAsync());
    }

    public static HttpRequestMessage Get(string path, string token, string scheme = "Bearer")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue(scheme, token);
        return request;
    }

    public static JsonElement JwtPart(string jwt, int part)
    {
        var segment = jwt.Split('.')[part].Replace('-', '+').Replace('_', '/');
        segment = segment.PadRight(segment.Length + (4 - segment.Length % 4) % 4, '=');
        return JsonDocument.Parse(Convert.FromBase64String(segment)).RootElement;
    }

    public static string Csrf(string html) => CsrfInput().Match(html) is { Success: true } match
        ? WebUtility.HtmlDecode(match.Groups[1].Value)
        : throw new InvalidOperationException("no anti-forgery field in the page:\n" + html);

    private static Uri Redirect(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Redirect || response.StatusCode == HttpStatusCode.Found,
            $"expected a redirect, got {(int)response.StatusCode}: {response.Content.ReadAsStringAsync().Result}");
        return response.Headers.Location!;
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenInputs();

    [GeneratedRegex("<input type=\"checkbox\" name=\"granted_scope\" value=\"([^\"]*)\"")]
    private static partial Regex ScopeBoxes();

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]*)\"")]
    private static partial Regex CsrfInput();
}
