using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Features.Authority;
using Imagebin.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Imagebin.Tests.Authority;

/// <summary>
/// The authority's OAuth 2.1 surface, driven over HTTP the way an MCP client and a browser drive it: discovery, the
/// authorization-code flow with PKCE, refresh rotation, revocation, resources and audiences, and each way they must fail.
/// </summary>
public sealed class AuthorityConformanceTests
{
    private const string Issuer = "http://localhost/";

    /// <summary>Revocation is seen at once: no reuse of an earlier "still valid" answer.</summary>
    private static ImagebinApp App(Backend backend = Backend.Embedded, Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Authority:IntrospectionCacheSeconds"] = "0" };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return new ImagebinApp(backend, settings);
    }

    private static async Task<ImagebinApp> AppWithAliceAsync(Backend backend = Backend.Embedded, Dictionary<string, string?>? more = null)
    {
        var app = App(backend, more);
        await app.CreateKeyAsync("alice");
        return app;
    }

    [Fact]
    public async Task Discovery_BothMetadataDocuments_AndBothProtectedResources_NameOneIssuer_ByteForByte()
    {
        await using var app = App();
        var client = app.Anonymous();
        var oauth = await (await client.GetAsync("/.well-known/oauth-authorization-server")).JsonAsync();
        var openid = await (await client.GetAsync("/.well-known/openid-configuration")).JsonAsync();
        var prm = await (await client.GetAsync("/.well-known/oauth-protected-resource")).JsonAsync();
        var mcp = await (await client.GetAsync("/.well-known/oauth-protected-resource/mcp")).JsonAsync();

        Assert.Equal(Issuer, oauth.GetProperty("issuer").GetString());
        Assert.Equal(Issuer, openid.GetProperty("issuer").GetString());
        Assert.Equal(Issuer, prm.GetProperty("authorization_servers")[0].GetString());
        Assert.Equal(Issuer, mcp.GetProperty("authorization_servers")[0].GetString());
        Assert.Equal("http://localhost", prm.GetProperty("resource").GetString());
        Assert.Equal("http://localhost/mcp", mcp.GetProperty("resource").GetString());

        Assert.Equal(["S256"], oauth.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("http://localhost/oauth/register", oauth.GetProperty("registration_endpoint").GetString());
        Assert.True(oauth.GetProperty("client_id_metadata_document_supported").GetBoolean());
        Assert.Contains("ES256", oauth.GetProperty("dpop_signing_alg_values_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("http://localhost/oauth/token", oauth.GetProperty("token_endpoint").GetString());
        Assert.Equal("http://localhost/oauth/introspect", oauth.GetProperty("introspection_endpoint").GetString());
        Assert.Equal("http://localhost/oauth/revoke", oauth.GetProperty("revocation_endpoint").GetString());
        Assert.DoesNotContain("password", oauth.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.DoesNotContain("implicit", oauth.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));

        var jwks = await (await client.GetAsync(oauth.GetProperty("jwks_uri").GetString()!)).JsonAsync();
        var key = Assert.Single(jwks.GetProperty("keys").EnumerateArray());
        Assert.False(key.TryGetProperty("d", out _), "the JWKS must not publish a private key");
    }

    [Fact]
    public async Task Discovery_SpoofedHost_ChangesNoUrl_AndUnknownSuffixesAre404()
    {
        await using var app = App();
        var client = app.Anonymous();
        foreach (var path in new[] { "/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "evil.example";
            var body = (await (await client.SendAsync(request)).JsonAsync()).GetRawText();
            Assert.DoesNotContain("evil.example", body);
        }

        foreach (var path in new[] { "/.well-known/oauth-authorization-server/other", "/.well-known/oauth-protected-resource/other", "/.well-known/openid-configuration/x" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(path)).StatusCode);
        }
    }

    [Theory, Backends]
    public async Task FullFlow_RegisterAuthorizeTokenCallRefreshRevoke(Backend backend)
    {
        await using var app = await AppWithAliceAsync(backend);
        var flow = OAuthFlow.For(app);
        var (clientId, tokens) = await flow.FullAsync();

        Assert.Equal("Bearer", tokens.GetProperty("token_type").GetString());
        var access = tokens.GetProperty("access_token").GetString()!;
        var header = OAuthFlow.JwtPart(access, 0);
        var payload = OAuthFlow.JwtPart(access, 1);
        Assert.Equal("at+jwt", header.GetProperty("typ").GetString());
        Assert.Equal("RS256", header.GetProperty("alg").GetString());
        Assert.Equal(Issuer, payload.GetProperty("iss").GetString());
        Assert.Equal("http://localhost", payload.GetProperty("aud").ValueKind == JsonValueKind.Array ? payload.GetProperty("aud")[0].GetString() : payload.GetProperty("aud").GetString());

        using (var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", access)))
        {
            Assert.Equal(HttpStatusCode.OK, items.StatusCode);
        }

        // Refresh: a new pair, the old refresh token spent.
        var refresh = tokens.GetProperty("refresh_token").GetString()!;
        using var refreshed = await flow.RefreshAsync(clientId, refresh);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var second = await refreshed.JsonAsync();
        var secondAccess = second.GetProperty("access_token").GetString()!;
        var secondRefresh = second.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(refresh, secondRefresh);
        using (var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", secondAccess)))
        {
            Assert.Equal(HttpStatusCode.OK, items.StatusCode);
        }

        // Revocation (RFC 7009) by the public client of its own tokens.
        using (var revoked = await flow.Client.PostAsync("/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
               {
                   ["client_id"] = clientId, ["token"] = secondAccess, ["token_type_hint"] = "access_token",
               })))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        using (var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", secondAccess)))
        {
            await items.AssertErrorAsync(401, "invalid_token");
        }

        using (var revoked = await flow.Client.PostAsync("/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
               {
                   ["client_id"] = clientId, ["token"] = secondRefresh,
               })))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        using var afterRevoke = await flow.RefreshAsync(clientId, secondRefresh);
        Assert.Equal("invalid_grant", (await afterRevoke.JsonAsync()).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Consent_MayGrantASubset_AndDenyingSendsAccessDenied()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync(name: "Subset <b>client</b>");
        await flow.SignInAsync("alice", "correct horse battery");

        using (var page = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create())))
        {
            var html = await page.Content.ReadAsStringAsync();
            Assert.Contains("Subset &lt;b&gt;client&lt;/b&gt;", html);
            Assert.Contains("127.0.0.1:53682", html);
            Assert.Contains("image:delete", html);
            Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
            // No form-action: Chromium would block the answer's redirect to the client (Html.ConsentContentSecurityPolicy).
            var policy = page.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Equal(Html.ConsentContentSecurityPolicy, policy);
            Assert.Contains("frame-ancestors 'none'", policy);
            Assert.DoesNotContain("form-action", policy);
        }

        var pkce = OAuthFlow.Pkce.Create();
        var redirect = await flow.ConsentAsync(OAuthFlow.AuthorizeUrl(clientId, pkce), grant: ["image:read"]);
        var code = QueryHelpers.ParseQuery(redirect.Query)["code"].ToString();
        using var token = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier);
        var access = (await token.JsonAsync()).GetProperty("access_token").GetString()!;
        var scopes = OAuthFlow.JwtPart(access, 1).GetProperty("scope").GetString()!.Split(' ');
        Assert.Contains("image:read", scopes);
        Assert.DoesNotContain("image:create", scopes);
        using (var upload = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) })
        {
            upload.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
            upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", access);
            await (await flow.Client.SendAsync(upload)).AssertErrorAsync(403, "insufficient_scope");
        }

        var denied = await flow.ConsentAsync(OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create()), approve: false);
        Assert.Equal("access_denied", QueryHelpers.ParseQuery(denied.Query)["error"].ToString());
    }

    [Fact]
    public async Task Authorize_WithoutPkce_WithPlain_OrAnUnregisteredRedirect_IsRefused()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        await flow.SignInAsync("alice", "correct horse battery");

        await AssertRefusedAsync(flow, OAuthFlow.AuthorizeUrl(clientId, pkce: null), "invalid_request");
        await AssertRefusedAsync(flow, OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), method: "plain"), "invalid_request");

        // Off by one character: never redirected there, not even with an error.
        using var offByOne = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), redirectUri: OAuthFlow.RedirectUri + "x"));
        Assert.Equal(HttpStatusCode.BadRequest, offByOne.StatusCode);
        Assert.Null(offByOne.Headers.Location);
    }

    /// <summary>
    /// A refused authorization request: either shown to the user (OpenIddict answers 400 itself when the request is
    /// malformed) or sent back to the client's registered redirect URI with the error; never a code.
    /// </summary>
    private static async Task AssertRefusedAsync(OAuthFlow flow, string authorizeUrl, string error)
    {
        using var response = await flow.Browser.GetAsync(authorizeUrl);
        if (response.Headers.Location is { } location)
        {
            Assert.StartsWith(OAuthFlow.RedirectUri, location.OriginalString);
            Assert.Equal(error, QueryHelpers.ParseQuery(location.Query)["error"].ToString());
            return;
        }

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"error:{error}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Token_WrongVerifier_WrongRedirect_AndAReusedCode_AreInvalidGrant_AndReuseRevokesTheFirstTokens()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();

        var pkce = OAuthFlow.Pkce.Create();
        var code = await flow.AuthorizeAsync(clientId, pkce);
        using (var wrong = await flow.RedeemCodeAsync(clientId, code, OAuthFlow.Pkce.Create().Verifier))
        {
            Assert.Equal("invalid_grant", (await wrong.JsonAsync()).GetProperty("error").GetString());
        }

        pkce = OAuthFlow.Pkce.Create();
        code = await flow.AuthorizeAsync(clientId, pkce);
        using (var wrong = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier, redirectUri: OAuthFlow.RedirectUri + "x"))
        {
            Assert.Equal("invalid_grant", (await wrong.JsonAsync()).GetProperty("error").GetString());
        }

        pkce = OAuthFlow.Pkce.Create();
        code = await flow.AuthorizeAsync(clientId, pkce);
        using var first = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var access = (await first.JsonAsync()).GetProperty("access_token").GetString()!;
        using (var again = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier))
        {
            Assert.Equal("invalid_grant", (await again.JsonAsync()).GetProperty("error").GetString());
        }

        // A code presented twice was stolen: what it bought is revoked (OAuth 2.1 §4.1.3).
        using var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", access));
        await items.AssertErrorAsync(401, "invalid_token");
    }

    [Theory, Backends]
    public async Task Refresh_ReusingARedeemedToken_RevokesTheWholeFamily(Backend backend)
    {
        await using var app = await AppWithAliceAsync(backend);
        var flow = OAuthFlow.For(app);
        var (clientId, tokens) = await flow.FullAsync();
        var first = tokens.GetProperty("refresh_token").GetString()!;
        using var rotated = await flow.RefreshAsync(clientId, first);
        var second = await rotated.JsonAsync();

        using (var reuse = await flow.RefreshAsync(clientId, first))
        {
            Assert.Equal("invalid_grant", (await reuse.JsonAsync()).GetProperty("error").GetString());
        }

        using (var descendant = await flow.RefreshAsync(clientId, second.GetProperty("refresh_token").GetString()!))
        {
            Assert.Equal("invalid_grant", (await descendant.JsonAsync()).GetProperty("error").GetString());
        }

        using var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", second.GetProperty("access_token").GetString()!));
        await items.AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task Resources_AForeignOneIsInvalidTarget_AndATokenIsAcceptedOnlyByItsOwnResource()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        await flow.SignInAsync("alice", "correct horse battery");
        await AssertRefusedAsync(flow, OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), resource: "https://other.example/api"), "invalid_target");
        await AssertRefusedAsync(flow, OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), resource: "http://localhost/other"), "invalid_target");

        var (_, tokens) = await flow.FullAsync(resource: "http://localhost/mcp");
        var access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal("http://localhost/mcp", OAuthFlow.JwtPart(access, 1).GetProperty("aud").ToString().Trim('"', '[', ']'));
        using var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", access));
        await items.AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task AccessToken_Expired_AnIdToken_AForgedOne_OrOneInTheQuery_IsRefused()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var (_, tokens) = await flow.FullAsync(scope: "openid image:read");
        var idToken = tokens.GetProperty("id_token").GetString()!;
        using (var asAccess = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", idToken)))
        {
            await asAccess.AssertErrorAsync(401, "invalid_token");
        }

        var access = tokens.GetProperty("access_token").GetString()!;
        using (var query = await flow.Client.GetAsync("/api/v1/account/items?access_token=" + access))
        {
            await query.AssertErrorAsync(401, "invalid_token");
        }

        // The same claims, signed with the authority's real key, but expired an hour ago.
        var claims = OAuthFlow.JwtPart(access, 1);
        var signer = app.Services.GetRequiredService<AuthorityKeyRing>().Current.Signer;
        var payload = JsonSerializer.Deserialize<Dictionary<string, object>>(claims.GetRawText())!;
        payload["exp"] = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeSeconds();
        payload["iat"] = payload["nbf"] = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeSeconds();
        var expired = new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(payload),
            new SigningCredentials(signer, SecurityAlgorithms.RsaSha256), new Dictionary<string, object> { ["typ"] = "at+jwt" });
        using (var response = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", expired)))
        {
            await response.AssertErrorAsync(401, "invalid_token");
        }

        // Valid claims, a key of the attacker's own.
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        payload["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        var forged = new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(payload),
            new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = signer.KeyId }, SecurityAlgorithms.RsaSha256), new Dictionary<string, object> { ["typ"] = "at+jwt" });
        using (var response = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", forged)))
        {
            await response.AssertErrorAsync(401, "invalid_token");
        }
    }

    [Fact]
    public async Task Introspection_ByAConfidentialClient_AnswersForTokensAndApiKeys_AndRefusesAnyoneElse()
    {
        await using var app = await AppWithAliceAsync(more: new()
        {
            ["Authority:IntrospectionClientId"] = "resource-server",
            ["Authority:IntrospectionClientSecret"] = "s3cret-for-introspection",
        });
        var key = await app.CreateKeyAsync("alice", "image:read");
        var flow = OAuthFlow.For(app);
        var (clientId, tokens) = await flow.FullAsync();
        var access = tokens.GetProperty("access_token").GetString()!;
        var basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("resource-server:s3cret-for-introspection"u8.ToArray()));

        async Task<JsonElement> IntrospectAsync(string token, AuthenticationHeaderValue? auth)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/oauth/introspect")
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
            };
            request.Headers.Authorization = auth;
            using var response = await flow.Client.SendAsync(request);
            return await response.JsonAsync();
        }

        var tokenAnswer = await IntrospectAsync(access, basic);
        Assert.True(tokenAnswer.GetProperty("active").GetBoolean(), tokenAnswer.GetRawText());
        var keyAnswer = await IntrospectAsync(key, basic);
        Assert.True(keyAnswer.GetProperty("active").GetBoolean(), keyAnswer.GetRawText());
        Assert.Equal("image:read", keyAnswer.GetProperty("scope").GetString());
        Assert.Equal("http://localhost", keyAnswer.GetProperty("aud").GetString());
        Assert.False((await IntrospectAsync(key[..^2] + "xx", basic)).GetProperty("active").GetBoolean());

        var wrongSecret = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("resource-server:guess"u8.ToArray()));
        Assert.Equal("invalid_client", (await IntrospectAsync(key, wrongSecret)).GetProperty("error").GetString());
        Assert.Equal("invalid_client", (await IntrospectAsync(access, wrongSecret)).GetProperty("error").GetString());
        // A public client may not introspect, not even its own token.
        using var publicClient = await flow.Client.PostAsync("/oauth/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = access, ["client_id"] = clientId,
        }));
        Assert.NotEqual(HttpStatusCode.OK, publicClient.StatusCode);
    }

    [Fact]
    public async Task Registration_RefusesBadRedirects_SecretsMethods_AndBadJson()
    {
        await using var app = App();
        var client = app.Anonymous();

        async Task<(HttpStatusCode Status, string? Error)> RegisterAsync(string body)
        {
            using var response = await client.PostAsync("/oauth/register", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            var error = response.StatusCode == HttpStatusCode.Created ? null : (await response.JsonAsync()).GetProperty("error").GetString();
            return (response.StatusCode, error);
        }

        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync("""{"redirect_uris":["https://app.example/cb"],"client_name":"ok"}""")).Status);
        Assert.Equal(HttpStatusCode.Created, (await RegisterAsync("""{"redirect_uris":["http://127.0.0.1:9000/cb"]}""")).Status);
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_redirect_uri"), await RegisterAsync("""{"redirect_uris":["http://app.example/cb"]}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_redirect_uri"), await RegisterAsync("""{"redirect_uris":["https://app.example/cb#frag"]}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_redirect_uri"), await RegisterAsync("""{"redirect_uris":["javascript:alert(1)"]}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_redirect_uri"), await RegisterAsync("""{"redirect_uris":[]}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_client_metadata"),
            await RegisterAsync("""{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_client_metadata"),
            await RegisterAsync("""{"redirect_uris":["https://app.example/cb"],"grant_types":["password"]}"""));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_client_metadata"), await RegisterAsync("{not json"));
        Assert.Equal((HttpStatusCode.BadRequest, "invalid_client_metadata"), await RegisterAsync("[1]"));
    }

    [Fact]
    public async Task ClientIdMetadataDocument_HttpOrPrivateAddress_IsRefusedWithoutRedirecting()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        await flow.SignInAsync("alice", "correct horse battery");
        foreach (var clientId in new[] { "http://app.example/client.json", "https://127.0.0.1/client.json", "https://169.254.169.254/latest/meta-data", "https://localhost/client.json" })
        {
            using var response = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create()));
            Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized, $"{clientId}: {response.StatusCode}");
            Assert.Null(response.Headers.Location);
            Assert.Contains("invalid_client", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task SignIn_WrongPassword_ForgedForm_AndManyAttempts_AreRefused()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        using var page = await flow.Browser.GetAsync("/account/signin");
        Assert.Equal(Html.ContentSecurityPolicy, page.Headers.GetValues("Content-Security-Policy").Single());
        var csrf = OAuthFlow.Csrf(await page.Content.ReadAsStringAsync());

        Task<HttpResponseMessage> PostAsync(string password, string token) => flow.Browser.PostAsync("/account/signin",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["csrf"] = token, ["name"] = "alice", ["password"] = password }));

        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("wrong password", csrf)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("correct horse battery", "forged")).StatusCode);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            statuses.Add((await PostAsync("wrong again", csrf)).StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        // The account is not locked for good; but right now, even the right password waits.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostAsync("correct horse battery", csrf)).StatusCode);
    }

    [Fact]
    public async Task SignOut_EndsTheSession_SoAuthorizeAsksToSignInAgain()
    {
        await using var app = await AppWithAliceAsync();
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        await flow.SignInAsync("alice", "correct horse battery");
        var url = OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create());
        using (var consent = await flow.Browser.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
            using var signOut = await flow.Browser.PostAsync("/account/signout", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["csrf"] = OAuthFlow.Csrf(await consent.Content.ReadAsStringAsync()),
            }));
            Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        }

        using var again = await flow.Browser.GetAsync(url);
        Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
        Assert.StartsWith("/account/signin", again.Headers.Location!.OriginalString);
    }

    [Fact]
    public async Task KeyRotation_PublishesTheNextKeyAhead_ThenSignsWithIt_WhileTokensOfTheOldKeyStillWork()
    {
        await using var app = await AppWithAliceAsync(more: new()
        {
            ["Authority:SigningKeyDays"] = "1",
            ["Authority:SigningKeyPublishAheadHours"] = "48",
        });
        var flow = OAuthFlow.For(app);
        var (_, tokens) = await flow.FullAsync();
        var oldToken = tokens.GetProperty("access_token").GetString()!;
        var oldKid = OAuthFlow.JwtPart(oldToken, 0).GetProperty("kid").GetString();
        var rotation = app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<AuthorityKeyRotation>().Single();

        // Due (a one-day key, published two days ahead): the next key is published, the old one still signs.
        await rotation.RunOnceAsync(CancellationToken.None);
        var jwks = await (await flow.Client.GetAsync("/oauth/jwks")).JsonAsync();
        var kids = jwks.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()).ToList();
        Assert.Equal(2, kids.Count);
        var (_, ahead) = await flow.FullAsync();
        Assert.Equal(oldKid, OAuthFlow.JwtPart(ahead.GetProperty("access_token").GetString()!, 0).GetProperty("kid").GetString());

        // Its time comes (moved here rather than waited for): new tokens are signed with it, old ones still verify.
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Imagebin.Data.ImagebinDb>();
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await db.Database.ExecuteSqlAsync($"UPDATE authority_keys SET active_from = {now - 1000} WHERE purpose = 'sig' AND id <> {oldKid}");
        }

        await app.Services.GetRequiredService<AuthorityKeyRing>().LoadAsync(CancellationToken.None);
        await rotation.RunOnceAsync(CancellationToken.None);
        var (_, after) = await flow.FullAsync();
        var newToken = after.GetProperty("access_token").GetString()!;
        var newKid = OAuthFlow.JwtPart(newToken, 0).GetProperty("kid").GetString();
        Assert.NotEqual(oldKid, newKid);
        Assert.Contains(newKid, kids);
        foreach (var token in new[] { oldToken, newToken })
        {
            using var response = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", token));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task AdminScope_IsNeverGrantedThroughOAuth_EvenToAnAdmin()
    {
        await using var app = App();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<Imagebin.Features.Accounts.AccountService>()
                .CreateAsync("boss", admin: true, password: "correct horse battery", CancellationToken.None);
        }

        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        await flow.SignInAsync("boss", "correct horse battery");
        await AssertRefusedAsync(flow, OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), scope: "image:read admin"), "invalid_scope");
    }

    [Fact]
    public async Task ClientIdMetadataDocument_AuthorizesWithItsOwnRedirects_AndRefusesAMismatchedOne()
    {
        await using var server = await TestHttpsServer.StartAsync();
        var clientId = server.Url("/oauth/client.json");
        server.MapJson("/oauth/client.json", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["client_id"] = clientId,
            ["client_name"] = "Document client",
            ["redirect_uris"] = new[] { OAuthFlow.RedirectUri },
        }));
        var impostor = server.Url("/oauth/impostor.json");
        server.MapJson("/oauth/impostor.json", JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["client_id"] = clientId,
            ["redirect_uris"] = new[] { OAuthFlow.RedirectUri },
        }));
        // The test's https server is on 127.0.0.1 with a certificate of its own: this app may reach it, nothing else changes.
        await using var app = new ImagebinApp(settings: new() { ["Authority:IntrospectionCacheSeconds"] = "0" })
        {
            ExtraServices = services => services.AddSingleton(TestHttpsServer.Client()),
        };
        await app.CreateKeyAsync("alice");
        var flow = OAuthFlow.For(app);

        var pkce = OAuthFlow.Pkce.Create();
        await flow.SignInAsync("alice", "correct horse battery");
        using (var consent = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(clientId, pkce)))
        {
            var html = await consent.Content.ReadAsStringAsync();
            Assert.Contains("Document client", html);
            Assert.Contains(clientId, html);
        }

        var redirect = await flow.ConsentAsync(OAuthFlow.AuthorizeUrl(clientId, pkce));
        var code = QueryHelpers.ParseQuery(redirect.Query)["code"].ToString();
        using var token = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier);
        Assert.Equal(HttpStatusCode.OK, token.StatusCode);
        using (var items = await flow.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", (await token.JsonAsync()).GetProperty("access_token").GetString()!)))
        {
            Assert.Equal(HttpStatusCode.OK, items.StatusCode);
        }

        // A redirect the document does not list: shown to the user, never followed.
        using (var unlisted = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create(), redirectUri: "https://attacker.example/cb")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, unlisted.StatusCode);
            Assert.Null(unlisted.Headers.Location);
        }

        // A document naming another client_id than its own URL.
        using var mismatched = await flow.Browser.GetAsync(OAuthFlow.AuthorizeUrl(impostor, OAuthFlow.Pkce.Create()));
        Assert.Null(mismatched.Headers.Location);
        Assert.Contains("invalid_client", await mismatched.Content.ReadAsStringAsync());
    }
}
