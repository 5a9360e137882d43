using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Authority;

/// <summary>
/// DPoP (RFC 9449) end to end: the token endpoint binds tokens to the proof's key (<c>cnf.jkt</c>, <c>token_type: DPoP</c>),
/// refresh tokens stay bound to it, and the API accepts a bound token only with a fresh proof of that key for that request.
/// </summary>
public sealed class DpopFlowTests
{
    private const string TokenUrl = "http://localhost/oauth/token";
    private const string ItemsPath = "/api/v1/account/items";
    private const string ItemsUrl = "http://localhost" + ItemsPath;

    private static async Task<ImagebinApp> AppAsync(SharedStore? store = null)
    {
        var settings = new Dictionary<string, string?> { ["Authority:IntrospectionCacheSeconds"] = "0" };
        var app = store is null ? new ImagebinApp(settings: settings) : store.Start(settings);
        await app.CreateKeyAsync("alice");

        return app;
    }

    /// <summary>Register, authorize, and redeem the code with a proof of <paramref name="key"/>.</summary>
    private static async Task<(OAuthFlow Flow, string ClientId, JsonElement Tokens)> BoundTokensAsync(ImagebinApp app, ECDsa key)
    {
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        var pkce = OAuthFlow.Pkce.Create();
        var code = await flow.AuthorizeAsync(clientId, pkce);
        using var response = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier, dpopProof: DpopProofs.Create(key, "POST", TokenUrl));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (flow, clientId, await response.JsonAsync());
    }

    private static HttpRequestMessage Call(string token, string? proof, string scheme = "DPoP", params string[] moreProofs)
    {
        var request = OAuthFlow.Get(ItemsPath, token, scheme);
        if (proof is not null)
        {
            request.Headers.Add("DPoP", proof);
        }

        foreach (var extra in moreProofs)
        {
            request.Headers.Add("DPoP", extra);
        }

        return request;
    }

    [Fact]
    public async Task BoundToken_WorksWithAValidProof_AndNotAsBearer()
    {
        await using var app = await AppAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (flow, clientId, tokens) = await BoundTokensAsync(app, key);
        Assert.Equal("DPoP", tokens.GetProperty("token_type").GetString());
        var access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal(DpopProofs.Jkt(key), OAuthFlow.JwtPart(access, 1).GetProperty("cnf").GetProperty("jkt").GetString());

        using (var ok = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access))))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var asBearer = await flow.Client.SendAsync(Call(access, proof: null, scheme: "Bearer")))
        {
            await asBearer.AssertErrorAsync(401, "invalid_token");
        }

        using (var bearerWithProof = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access), scheme: "Bearer")))
        {
            await bearerWithProof.AssertErrorAsync(401, "invalid_token");
        }

        using (var noProof = await flow.Client.SendAsync(Call(access, proof: null)))
        {
            await noProof.AssertErrorAsync(401, "invalid_dpop_proof");
            Assert.StartsWith("DPoP ", noProof.Headers.WwwAuthenticate.ToString());
        }

        // A bound token can be revoked like any other.
        using (var revoke = await flow.Client.PostAsync("/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
               {
                   ["client_id"] = clientId, ["token"] = access,
               })))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        using var revoked = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access)));
        await revoked.AssertErrorAsync(401, "invalid_token");
    }

    [Fact]
    public async Task EveryBrokenProof_IsInvalidDpopProof()
    {
        await using var app = await AppAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (flow, _, tokens) = await BoundTokensAsync(app, key);
        var access = tokens.GetProperty("access_token").GetString()!;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        var broken = new Dictionary<string, Func<HttpRequestMessage>>
        {
            ["htm"] = () => Call(access, DpopProofs.Create(key, "POST", ItemsUrl, access)),
            ["htu"] = () => Call(access, DpopProofs.Create(key, "GET", "http://localhost/api/v1/other", access)),
            ["htu host"] = () => Call(access, DpopProofs.Create(key, "GET", "http://evil.example" + ItemsPath, access)),
            ["ath"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access + "x")),
            ["jkt"] = () => Call(access, DpopProofs.Create(otherKey, "GET", ItemsUrl, access)),
            ["stale iat"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access, payload: p => p["iat"] = now - 3600)),
            ["future iat"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access, payload: p => p["iat"] = now + 3600)),
            ["alg none"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access, header: h => h["alg"] = "none")),
            ["HS256"] = () => Call(access, Hs256Proof(access)),
            ["private key"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access,
                header: h => h["jwk"]!["d"] = Convert.ToBase64String(key.ExportParameters(true).D!).TrimEnd('=').Replace('+', '-').Replace('/', '_'))),
            ["two proofs"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access), "DPoP", DpopProofs.Create(key, "GET", ItemsUrl, access)),
            ["wrong typ"] = () => Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access, header: h => h["typ"] = "JWT")),
        };
        foreach (var (name, request) in broken)
        {
            using var response = await flow.Client.SendAsync(request());
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{name}: {response.StatusCode}");
            Assert.Equal("invalid_dpop_proof", (await response.JsonAsync()).GetProperty("error").GetString());
        }
    }

    [Theory, Backends]
    public async Task ReplayedProof_IsRefused_AlsoByAnotherNode(Backend backend)
    {
        using var store = new SharedStore(backend);
        await using var first = await AppAsync(store);
        await using var second = store.Start(new() { ["Authority:IntrospectionCacheSeconds"] = "0" });
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (flow, _, tokens) = await BoundTokensAsync(first, key);
        var access = tokens.GetProperty("access_token").GetString()!;

        var proof = DpopProofs.Create(key, "GET", ItemsUrl, access);
        using (var once = await flow.Client.SendAsync(Call(access, proof)))
        {
            Assert.Equal(HttpStatusCode.OK, once.StatusCode);
        }

        using (var again = await flow.Client.SendAsync(Call(access, proof)))
        {
            await again.AssertErrorAsync(401, "invalid_dpop_proof");
        }

        using (var elsewhere = await second.Anonymous().SendAsync(Call(access, proof)))
        {
            await elsewhere.AssertErrorAsync(401, "invalid_dpop_proof");
        }

        // The other node takes the same token with a fresh proof: keys and replay records are shared, not per node.
        using var fresh = await second.Anonymous().SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access)));
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
    }

    [Fact]
    public async Task BoundRefreshToken_NeedsAProofOfTheSameKey()
    {
        await using var app = await AppAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (flow, clientId, tokens) = await BoundTokensAsync(app, key);
        var refresh = tokens.GetProperty("refresh_token").GetString()!;

        using (var withoutProof = await flow.RefreshAsync(clientId, refresh))
        {
            Assert.Equal("invalid_dpop_proof", (await withoutProof.JsonAsync()).GetProperty("error").GetString());
        }

        using (var wrongKey = await flow.RefreshAsync(clientId, refresh, DpopProofs.Create(otherKey, "POST", TokenUrl)))
        {
            Assert.Equal("invalid_dpop_proof", (await wrongKey.JsonAsync()).GetProperty("error").GetString());
        }

        using var rightKey = await flow.RefreshAsync(clientId, refresh, DpopProofs.Create(key, "POST", TokenUrl));
        Assert.Equal(HttpStatusCode.OK, rightKey.StatusCode);
        var renewed = await rightKey.JsonAsync();
        Assert.Equal("DPoP", renewed.GetProperty("token_type").GetString());
        Assert.Equal(DpopProofs.Jkt(key), OAuthFlow.JwtPart(renewed.GetProperty("access_token").GetString()!, 1).GetProperty("cnf").GetProperty("jkt").GetString());
    }

    [Fact]
    public async Task TokenEndpoint_RefusesABrokenProof_AndAnUnboundFlowStaysBearer()
    {
        await using var app = await AppAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        var pkce = OAuthFlow.Pkce.Create();
        var code = await flow.AuthorizeAsync(clientId, pkce);
        using (var wrongUrl = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier, dpopProof: DpopProofs.Create(key, "POST", "http://localhost/oauth/other")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrongUrl.StatusCode);
            Assert.Equal("invalid_dpop_proof", (await wrongUrl.JsonAsync()).GetProperty("error").GetString());
        }

        // The refused proof did not spend the code.
        using var unbound = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier);
        Assert.Equal(HttpStatusCode.OK, unbound.StatusCode);
        var tokens = await unbound.JsonAsync();
        Assert.Equal("Bearer", tokens.GetProperty("token_type").GetString());
        var access = tokens.GetProperty("access_token").GetString()!;
        Assert.False(OAuthFlow.JwtPart(access, 1).TryGetProperty("cnf", out _));
        // An unbound token claimed as DPoP is refused too: the scheme must match the token.
        using var claimed = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access)));
        await claimed.AssertErrorAsync(401, "invalid_token");
    }

    private static string Hs256Proof(string accessToken)
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var header = new JsonObject
        {
            ["typ"] = "dpop+jwt",
            ["alg"] = "HS256",
            ["jwk"] = new JsonObject { ["kty"] = "oct", ["k"] = Convert.ToBase64String(secret).TrimEnd('=').Replace('+', '-').Replace('/', '_') },
        };
        var payload = new JsonObject
        {
            ["jti"] = Guid.NewGuid().ToString(),
            ["htm"] = "GET",
            ["htu"] = ItemsUrl,
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["ath"] = DpopProofs.Ath(accessToken),
        };
        return DpopProofs.Compact(header, payload, HMACSHA256.HashData(secret, System.Text.Encoding.ASCII.GetBytes(DpopProofs.SigningInput(header, payload))));
    }

    [Fact]
    public async Task ServerNonce_WhenRequired_IsAskedFor_AtTheTokenEndpointAndTheApi()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Authority:IntrospectionCacheSeconds"] = "0",
            ["Authority:Dpop:RequireNonce"] = "true",
        });
        await app.CreateKeyAsync("alice");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var flow = OAuthFlow.For(app);
        var clientId = await flow.RegisterAsync();
        var pkce = OAuthFlow.Pkce.Create();
        var code = await flow.AuthorizeAsync(clientId, pkce);

        string nonce;
        using (var first = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier, dpopProof: DpopProofs.Create(key, "POST", TokenUrl)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
            Assert.Equal("use_dpop_nonce", (await first.JsonAsync()).GetProperty("error").GetString());
            nonce = first.Headers.GetValues("DPoP-Nonce").Single();
        }

        using var second = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier, dpopProof: DpopProofs.Create(key, "POST", TokenUrl, payload: p => p["nonce"] = nonce));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var access = (await second.JsonAsync()).GetProperty("access_token").GetString()!;

        using (var withoutNonce = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access))))
        {
            await withoutNonce.AssertErrorAsync(401, "invalid_dpop_proof");
            Assert.Contains("use_dpop_nonce", withoutNonce.Headers.WwwAuthenticate.ToString());
            nonce = withoutNonce.Headers.GetValues("DPoP-Nonce").Single();
        }

        using var withNonce = await flow.Client.SendAsync(Call(access, DpopProofs.Create(key, "GET", ItemsUrl, access, payload: p => p["nonce"] = nonce)));
        Assert.Equal(HttpStatusCode.OK, withNonce.StatusCode);
    }
}
