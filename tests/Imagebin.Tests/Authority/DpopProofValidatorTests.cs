using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Imagebin.Data;
using Imagebin.Features.Authority.Dpop;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Imagebin.Tests.Authority;

/// <summary>DPoP proofs (RFC 9449) signed with real keys, checked against a real shared store (SQLite).</summary>
public sealed class DpopProofValidatorTests : IAsyncDisposable
{
    private const string Url = "https://img.example/api/v1/items";
    private const string Token = "an-access-token";
    private const string NonceSecret = "a-nonce-secret-of-at-least-thirty-two-characters";

    private readonly ImagebinApp _app = new(settings: new() { ["Imagebin:Roles"] = "api" });
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public async ValueTask DisposeAsync()
    {
        _key.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Es256Proof_IsValid_AndNamesItsKeysThumbprintAndJti()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, Token, payload: p => p["jti"] = "proof-1");

        var result = await ValidateAsync(proof, accessToken: Token, expectedJkt: DpopProofs.Jkt(_key));

        Assert.Equal(DpopValidationKind.Valid, result.Kind);
        Assert.Equal(DpopProofs.Jkt(_key), result.Jkt);
        Assert.Equal("proof-1", result.Jti);
        Assert.Null(result.Reason);
    }

    [Fact]
    public async Task Es384Proof_IsValid()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        var result = await ValidateAsync(DpopProofs.Create(key, "GET", Url), method: "GET");

        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(DpopProofs.Jkt(key), result.Jkt);
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS256")]
    public async Task RsaProof_IsValid(string alg)
    {
        using var key = RSA.Create(2048);

        var result = await ValidateAsync(DpopProofs.Create(key, "POST", Url, Token, header: h => h["alg"] = alg), accessToken: Token);

        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(DpopProofs.Jkt(key), result.Jkt);
    }

    [Theory]
    [InlineData("RS256", "PS256")]
    [InlineData("PS256", "RS256")]
    public async Task RsaProof_SignedWithTheOtherPadding_IsInvalid(string claimed, string signedWith)
    {
        using var key = RSA.Create(2048);
        var header = new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = claimed, ["jwk"] = DpopProofs.PublicJwk(key) };
        var payload = Payload("POST", Url);
        var padding = signedWith == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        var signature = key.SignData(Encoding.ASCII.GetBytes(DpopProofs.SigningInput(header, payload)), HashAlgorithmName.SHA256, padding);

        AssertInvalid(await ValidateAsync(DpopProofs.Compact(header, payload, signature)), "signature");
    }

    [Fact]
    public async Task NoHeader_IsMissing_NotInvalid()
    {
        var result = await Validator().ValidateAsync(StringValues.Empty, "GET", Url, null, null, CancellationToken.None);

        Assert.Equal(DpopValidationKind.Missing, result.Kind);
        Assert.False(result.IsValid);
    }

    [Fact]
    public async Task TwoHeaderValues_AreInvalid_EvenWhenEachIsValid()
    {
        var headers = new StringValues([DpopProofs.Create(_key, "GET", Url), DpopProofs.Create(_key, "GET", Url)]);

        var result = await Validator().ValidateAsync(headers, "GET", Url, null, null, CancellationToken.None);

        AssertInvalid(result, "more than one");
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-jws")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("e30.e30.")]
    [InlineData("!!!.e30.AA")]
    public async Task Malformed_IsInvalid(string proof)
    {
        var result = await ValidateAsync(proof);

        Assert.Equal(DpopValidationKind.Invalid, result.Kind);
    }

    [Fact]
    public async Task ProofLongerThan8KiB_IsInvalid_BeforeAnyParsing()
    {
        var proof = DpopProofs.Create(_key, "GET", Url, payload: p => p["padding"] = new string('x', DpopProofValidator.MaxProofLength));

        AssertInvalid(await ValidateAsync(proof, method: "GET"), "longer than");
    }

    [Fact]
    public async Task OtherMethod_IsInvalid_AndMethodsAreCaseSensitive()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "GET", Url), method: "POST"), "htm");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "post", Url), method: "POST"), "htm");
    }

    [Theory]
    [InlineData("https://img.example/api/v1/items/other")]
    [InlineData("https://img.example/api/v1/item")]
    [InlineData("https://evil.example/api/v1/items")]
    [InlineData("http://img.example/api/v1/items")]
    [InlineData("https://img.example:8443/api/v1/items")]
    [InlineData("/api/v1/items")]
    [InlineData("img.example/api/v1/items")]
    public async Task OtherUrl_IsInvalid(string htu)
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", htu)), "htu");
    }

    [Fact]
    public async Task HtuThatIsNotAString_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["htu"] = 42)), "htu");
    }

    [Theory]
    [InlineData("https://img.example/api/v1/items?page=2", Url)]
    [InlineData(Url, Url + "?page=2&size=10")]
    [InlineData(Url + "#top", Url)]
    [InlineData("HTTPS://IMG.Example:443/api/v1/items", Url)]
    [InlineData("https://img.example/api/v1/./x/../items", Url)]
    [InlineData("http://img.example:80/api/v1/items", "http://img.example/api/v1/items?q=1")]
    public async Task Url_IsComparedNormalized_WithoutQueryOrFragment(string htu, string requestUrl)
    {
        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", htu), url: requestUrl);

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task PathCase_Matters()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", "https://img.example/API/v1/items")), "htu");
    }

    [Fact]
    public async Task AthOfAnotherToken_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, "another-token"), accessToken: Token), "ath");
    }

    [Fact]
    public async Task NoAth_WhenATokenIsPresented_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url), accessToken: Token), "ath");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["ath"] = 1), accessToken: Token), "ath");
    }

    [Fact]
    public async Task Ath_IsIgnored_WhenNoTokenIsPresented()
    {
        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", Url, "a-token-the-caller-does-not-pass"));

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task Ath_IsTheRfc9449Hash()
    {
        // RFC 9449 §4.2 / §7.1: this access token and its ath.
        const string token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        var proof = DpopProofs.Create(_key, "GET", Url, payload: p => p["ath"] = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");

        var result = await ValidateAsync(proof, method: "GET", accessToken: token);

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task KeyOtherThanTheTokensBoundKey_IsInvalid()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url), expectedJkt: DpopProofs.Jkt(other)), "bound");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url), expectedJkt: ""), "bound");
    }

    [Fact]
    public async Task StaleIat_IsInvalid()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, payload: p => p["iat"] = DateTimeOffset.UtcNow.AddSeconds(-301).ToUnixTimeSeconds());

        AssertInvalid(await ValidateAsync(proof), "old");
    }

    [Fact]
    public async Task FutureIat_IsInvalid_BeyondTheClockSkew()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, payload: p => p["iat"] = DateTimeOffset.UtcNow.AddSeconds(60).ToUnixTimeSeconds());

        AssertInvalid(await ValidateAsync(proof), "future");
    }

    [Theory]
    [InlineData(-290)]
    [InlineData(20)]
    public async Task Iat_WithinTheWindow_IsValid(int offsetSeconds)
    {
        var proof = DpopProofs.Create(_key, "POST", Url, payload: p => p["iat"] = DateTimeOffset.UtcNow.AddSeconds(offsetSeconds).ToUnixTimeSeconds());

        var result = await ValidateAsync(proof);

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task IatThatIsNotANumber_IsInvalid()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, payload: p => p["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString());

        AssertInvalid(await ValidateAsync(proof), "iat");
    }

    [Fact]
    public async Task MissingOrOverlongJti_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p.Remove("jti"))), "jti");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = "")), "jti");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = new string('j', 129))), "jti");
        Assert.True((await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = new string('j', 128)))).IsValid);
    }

    [Fact]
    public async Task ReplayedProof_IsInvalid_TheSecondTime()
    {
        var validator = Validator();
        var proof = DpopProofs.Create(_key, "POST", Url);

        Assert.True((await ValidateAsync(proof, validator: validator)).IsValid);
        AssertInvalid(await ValidateAsync(proof, validator: validator), "replayed");
        // Another proof from the same key is not a replay.
        Assert.True((await ValidateAsync(DpopProofs.Create(_key, "POST", Url), validator: validator)).IsValid);
    }

    [Fact]
    public async Task ReplayedProof_IsInvalid_OnAnotherNodeOverTheSameStore()
    {
        var proof = DpopProofs.Create(_key, "POST", Url);

        Assert.True((await ValidateAsync(proof, validator: Validator())).IsValid);
        AssertInvalid(await ValidateAsync(proof, validator: Validator()), "replayed");
    }

    [Fact]
    public async Task SameJti_FromAnotherKey_IsNotAReplay()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.True((await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = "shared"))).IsValid);
        Assert.True((await ValidateAsync(DpopProofs.Create(other, "POST", Url, payload: p => p["jti"] = "shared"))).IsValid);
    }

    [Fact]
    public async Task RejectedProof_IsNotRecorded_SoItsJtiStaysUsable()
    {
        var rejected = DpopProofs.Create(_key, "GET", Url, payload: p => p["jti"] = "retry");
        AssertInvalid(await ValidateAsync(rejected, method: "POST"), "htm");

        Assert.True((await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = "retry"))).IsValid);
    }

    [Fact]
    public async Task AlgNone_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["alg"] = "none")), "alg");
    }

    [Fact]
    public async Task Hs256WithASymmetricKey_IsInvalid()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var header = new JsonObject
        {
            ["typ"] = "dpop+jwt",
            ["alg"] = "HS256",
            ["jwk"] = new JsonObject { ["kty"] = "oct", ["k"] = Base64Url.EncodeToString(secret) },
        };
        var payload = Payload("POST", Url);
        var signature = HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(DpopProofs.SigningInput(header, payload)));

        AssertInvalid(await ValidateAsync(DpopProofs.Compact(header, payload, signature)), "alg");
    }

    [Theory]
    [InlineData("ES512")]
    [InlineData("EdDSA")]
    [InlineData("es256")]
    public async Task OtherAlg_IsInvalid(string alg)
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["alg"] = alg)), "alg");
    }

    [Theory]
    [InlineData("d")]
    [InlineData("p")]
    [InlineData("q")]
    [InlineData("dp")]
    [InlineData("dq")]
    [InlineData("qi")]
    [InlineData("k")]
    [InlineData("oth")]
    public async Task PrivateMemberInTheJwk_IsInvalid(string member)
    {
        var d = Base64Url.EncodeToString(_key.ExportParameters(includePrivateParameters: true).D);
        var proof = DpopProofs.Create(_key, "POST", Url, header: h => h["jwk"]![member] = d);

        AssertInvalid(await ValidateAsync(proof), "private");
    }

    [Fact]
    public async Task MissingJwk_IsInvalid()
    {
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h.Remove("jwk"))), "jwk");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["jwk"] = "key")), "jwk");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("JWT")]
    [InlineData("at+jwt")]
    [InlineData("dpop")]
    public async Task MissingOrWrongTyp_IsInvalid(string? typ)
    {
        var proof = DpopProofs.Create(_key, "POST", Url, header: h =>
        {
            if (typ is null)
            {
                h.Remove("typ");
            }
            else
            {
                h["typ"] = typ;
            }
        });

        AssertInvalid(await ValidateAsync(proof), "typ");
    }

    [Theory]
    [InlineData("application/dpop+jwt")]
    [InlineData("DPoP+JWT")]
    public async Task Typ_IsAMediaType_ComparedAsOne(string typ)
    {
        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["typ"] = typ));

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task CriticalHeaderExtension_IsInvalid()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, header: h =>
        {
            h["crit"] = new JsonArray("exp");
            h["exp"] = 1;
        });

        AssertInvalid(await ValidateAsync(proof), "crit");
    }

    [Fact]
    public async Task DuplicateHeaderMember_IsInvalid()
    {
        var jwk = DpopProofs.PublicJwk(_key).ToJsonString();
        var header = $$"""{"typ":"JWT","alg":"ES256","jwk":{{jwk}},"typ":"dpop+jwt"}""";
        var input = $"{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header))}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Payload("POST", Url).ToJsonString()))}";
        var proof = $"{input}.{Base64Url.EncodeToString(_key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256))}";

        AssertInvalid(await ValidateAsync(proof), "header");
    }

    [Fact]
    public async Task AlteredPayload_FailsTheSignature()
    {
        var parts = DpopProofs.Create(_key, "POST", Url).Split('.');
        var payload = JsonNode.Parse(Base64Url.DecodeFromChars(parts[1]))!.AsObject();
        payload["jti"] = "another";
        var forged = $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.ToJsonString()))}.{parts[2]}";

        AssertInvalid(await ValidateAsync(forged), "signature");
    }

    [Fact]
    public async Task SignatureByAnotherKey_OrInAnotherFormat_IsInvalid()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var header = new JsonObject { ["typ"] = "dpop+jwt", ["alg"] = "ES256", ["jwk"] = DpopProofs.PublicJwk(_key) };
        var payload = Payload("POST", Url);
        var input = Encoding.ASCII.GetBytes(DpopProofs.SigningInput(header, payload));

        AssertInvalid(await ValidateAsync(DpopProofs.Compact(header, payload, other.SignData(input, HashAlgorithmName.SHA256))), "signature");
        var der = _key.SignData(input, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        AssertInvalid(await ValidateAsync(DpopProofs.Compact(header, payload, der)), "signature");
        AssertInvalid(await ValidateAsync(DpopProofs.Compact(header, payload, [])), "signature");
    }

    [Fact]
    public async Task Rsa1024Key_IsInvalid()
    {
        using var key = RSA.Create(1024);

        AssertInvalid(await ValidateAsync(DpopProofs.Create(key, "POST", Url)), "1024 bits");
    }

    [Fact]
    public async Task AlgThatDoesNotMatchTheKey_IsInvalid()
    {
        using var rsa = RSA.Create(2048);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        AssertInvalid(await ValidateAsync(DpopProofs.Create(rsa, "POST", Url, header: h => h["alg"] = "ES256")), "key type");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["alg"] = "RS256")), "key type");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "POST", Url, header: h => h["alg"] = "ES384")), "P-384");
        AssertInvalid(await ValidateAsync(DpopProofs.Create(p384, "POST", Url, header: h => h["alg"] = "ES256")), "P-256");
    }

    [Fact]
    public async Task PointOffTheCurve_IsInvalid()
    {
        var proof = DpopProofs.Create(_key, "POST", Url, header: h => h["jwk"]!["y"] = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)));

        Assert.Equal(DpopValidationKind.Invalid, (await ValidateAsync(proof)).Kind);
    }

    [Fact]
    public async Task ShortenedCoordinate_IsInvalid()
    {
        var x = _key.ExportParameters(includePrivateParameters: false).Q.X!;
        var proof = DpopProofs.Create(_key, "POST", Url, header: h => h["jwk"]!["x"] = Base64Url.EncodeToString(x.AsSpan(1)));

        AssertInvalid(await ValidateAsync(proof), "coordinates");
    }

    [Fact]
    public async Task RequiredNonce_Missing_AsksForOne()
    {
        var validator = Validator(new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret });

        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", Url), validator: validator);

        Assert.Equal(DpopValidationKind.UseNonce, result.Kind);
        Assert.False(result.IsValid);
    }

    [Fact]
    public async Task RequiredNonce_Issued_IsValid_AlsoOnAnotherNodeWithTheSameSecret()
    {
        var options = new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret };
        var nonce = Validator(options).CreateNonce();

        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["nonce"] = nonce), validator: Validator(options));

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public async Task RequiredNonce_ForgedOrFromAnotherSecret_AsksForOne()
    {
        var validator = Validator(new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret });
        var foreign = Validator(new DpopOptions { RequireNonce = true }).CreateNonce();

        Assert.Equal(DpopValidationKind.UseNonce, (await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["nonce"] = foreign), validator: validator)).Kind);
        Assert.Equal(DpopValidationKind.UseNonce, (await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["nonce"] = "made-up"), validator: validator)).Kind);
        Assert.Equal(DpopValidationKind.UseNonce, (await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["nonce"] = 7), validator: validator)).Kind);
    }

    [Fact]
    public async Task RequiredNonce_LivesForItsStepAndTheNext()
    {
        var time = new ManualTime(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var validator = Validator(new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret, NonceStepSeconds = 300 }, time);
        var nonce = validator.CreateNonce();
        string Proof() => DpopProofs.Create(_key, "POST", Url, payload: p =>
        {
            p["nonce"] = nonce;
            p["iat"] = time.GetUtcNow().ToUnixTimeSeconds();
        });

        time.Now = time.Now.AddSeconds(599);
        Assert.True((await ValidateAsync(Proof(), validator: validator)).IsValid);

        time.Now = time.Now.AddSeconds(1);
        var stale = await ValidateAsync(Proof(), validator: validator);
        Assert.Equal(DpopValidationKind.UseNonce, stale.Kind);
        Assert.NotEqual(nonce, validator.CreateNonce());
    }

    [Fact]
    public async Task RequiredNonce_OnAnOtherwiseInvalidProof_IsInvalid_NotUseNonce()
    {
        var validator = Validator(new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret });

        AssertInvalid(await ValidateAsync(DpopProofs.Create(_key, "GET", Url), validator: validator), "htm");
    }

    [Fact]
    public async Task NonceAskedForAgain_IsNotRecordedAsUsed()
    {
        var validator = Validator(new DpopOptions { RequireNonce = true, NonceSecret = NonceSecret });
        Assert.Equal(DpopValidationKind.UseNonce, (await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p => p["jti"] = "again"), validator: validator)).Kind);

        var nonce = validator.CreateNonce();
        var result = await ValidateAsync(DpopProofs.Create(_key, "POST", Url, payload: p =>
        {
            p["jti"] = "again";
            p["nonce"] = nonce;
        }), validator: validator);

        Assert.True(result.IsValid, result.Reason);
    }

    [Fact]
    public void Thumbprint_OfTheRfc7638Example_IsTheRfcsValue()
    {
        // RFC 7638 §3.1, with its optional members (which the thumbprint leaves out) in a different order.
        using var jwk = JsonDocument.Parse(
            """
            {
              "alg": "RS256",
              "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
              "e": "AQAB",
              "kty": "RSA",
              "kid": "2011-04-29"
            }
            """);

        Assert.Equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", Jwk.Thumbprint(jwk.RootElement));
    }

    [Fact]
    public void Thumbprint_OfEcAndRsaKeys_UsesOnlyTheRequiredMembers()
    {
        using var rsa = RSA.Create(2048);
        foreach (AsymmetricAlgorithm key in new AsymmetricAlgorithm[] { _key, rsa })
        {
            var jwk = DpopProofs.PublicJwk(key);
            jwk["kid"] = "key-1";
            jwk["use"] = "sig";

            Assert.Equal(DpopProofs.Jkt(key), Jwk.Thumbprint(JsonSerializer.SerializeToElement(jwk)));
        }

        Assert.Throws<ArgumentException>(() => Jwk.Thumbprint(JsonSerializer.SerializeToElement(new { kty = "EC", crv = "P-256", x = "AA" })));
        Assert.Throws<ArgumentException>(() => Jwk.Thumbprint(JsonSerializer.SerializeToElement(new { kty = "XYZ" })));
    }

    [Fact]
    public void Options_DefaultToTheRfcsSuggestions_AndAdvertiseTheCheckedAlgorithms()
    {
        var options = new DpopOptions();

        Assert.Equal(300, options.MaxAgeSeconds);
        Assert.Equal(30, options.ClockSkewSeconds);
        Assert.False(options.RequireNonce);
        Assert.Equal(["ES256", "ES384", "RS256", "PS256"], DpopAlgorithms.All);
    }

    [Fact]
    public async Task AddDpop_RegistersOneValidator_BoundToAuthorityDpop()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Imagebin:Roles"] = "api",
            ["Authority:Dpop:MaxAgeSeconds"] = "60",
        })
        {
            ExtraServices = services => services.AddDpop(),
        };

        Assert.Equal(60, app.Services.GetRequiredService<IOptions<DpopOptions>>().Value.MaxAgeSeconds);
        Assert.Same(app.Services.GetRequiredService<DpopProofValidator>(), app.Services.GetRequiredService<DpopProofValidator>());
        var proof = DpopProofs.Create(_key, "POST", Url, payload: p => p["iat"] = DateTimeOffset.UtcNow.AddSeconds(-90).ToUnixTimeSeconds());
        AssertInvalid(await app.Services.GetRequiredService<DpopProofValidator>().ValidateAsync(proof, "POST", Url, null, null, CancellationToken.None), "60 s old");
    }

    [Fact]
    public async Task AddDpop_WithAShortNonceSecret_FailsAtStart()
    {
        await using var app = new ImagebinApp(settings: new()
        {
            ["Imagebin:Roles"] = "api",
            ["Authority:Dpop:NonceSecret"] = "too-short",
        })
        {
            ExtraServices = services => services.AddDpop(),
        };

        var error = Assert.ThrowsAny<Exception>(() => app.Server);
        Assert.Contains("NonceSecret", error.ToString());
    }

    private static JsonObject Payload(string method, string url) => new()
    {
        ["jti"] = Guid.NewGuid().ToString(),
        ["htm"] = method,
        ["htu"] = url,
        ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
    };

    private static void AssertInvalid(DpopValidation result, string reason)
    {
        Assert.Equal(DpopValidationKind.Invalid, result.Kind);
        Assert.False(result.IsValid);
        Assert.Contains(reason, result.Reason);
    }

    private DpopProofValidator Validator(DpopOptions? options = null, TimeProvider? time = null) =>
        new(_app.Services.GetRequiredService<SharedState>(), time ?? TimeProvider.System, Options.Create(options ?? new DpopOptions()));

    private Task<DpopValidation> ValidateAsync(
        string proof,
        string method = "POST",
        string url = Url,
        string? accessToken = null,
        string? expectedJkt = null,
        DpopProofValidator? validator = null) =>
        (validator ?? Validator()).ValidateAsync(proof, method, url, accessToken, expectedJkt, CancellationToken.None);

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
