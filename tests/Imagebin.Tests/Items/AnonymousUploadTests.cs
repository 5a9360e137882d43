using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Items;

/// <summary>
/// Anonymous uploads (issue 8), over HTTP: a keyless upload is accepted only with a solved, unused, unexpired upload
/// challenge; it gets no owner, a forced expiry and a delete token that deletes it like its owner would; everything else
/// is refused with nothing stored.
/// </summary>
public sealed class AnonymousUploadTests
{
    private const int Difficulty = 8;

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Uploads:Anonymous:DifficultyBits"] = Difficulty.ToString(),
            ["Authority:Pow:DifficultyBits"] = Difficulty.ToString(),
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return settings;
    }

    private sealed class TestClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    private static async Task<JsonElement> ChallengeAsync(HttpClient client, string path = "/api/v1/uploads/challenge")
    {
        using var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string Unsolved(JsonElement challenge)
    {
        var prefix = challenge.GetProperty("prefix").GetString()!;
        for (var i = 0; ; i++)
        {
            if (PowSolver.Work(prefix, $"x{i}") < challenge.GetProperty("difficulty_bits").GetInt32())
            {
                return $"x{i}";
            }
        }
    }

    private static Task<HttpResponseMessage> UploadAsync(HttpClient client, byte[] image, JsonElement? challenge, string? nonce = null, Action<HttpRequestMessage>? configure = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(image) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/jpeg");
        if (challenge is { } solved)
        {
            request.Headers.Add("x-challenge-id", solved.GetProperty("challenge_id").GetString());
            request.Headers.Add("x-challenge-nonce", nonce ?? PowSolver.Solve(solved));
        }

        configure?.Invoke(request);
        return client.SendAsync(request);
    }

    private static async Task<JsonElement> UploadSolvedAsync(HttpClient client, byte[]? image = null, Action<HttpRequestMessage>? configure = null)
    {
        using var response = await UploadAsync(client, image ?? TestImages.Jpeg(), await ChallengeAsync(client), configure: configure);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Task<HttpResponseMessage> DeleteAsync(HttpClient client, string id, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/items/{id}");
        request.Headers.Add("x-delete-token", token);
        return client.SendAsync(request);
    }

    private static async Task AssertNothingStoredAsync(ImagebinApp app)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        Assert.Equal(0, await db.Items.CountAsync());
        Assert.Empty(await app.BlobKeysAsync());
        Assert.Empty(app.TempFiles());
    }

    private static async Task<Item> StoredAsync(ImagebinApp app, string id)
    {
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        return await db.Items.SingleAsync(i => i.Id == id);
    }

    [Fact]
    public async Task Upload_WithSolvedChallenge_IsStoredWithoutOwner_ExpiresIn30Days_AndAnswersADeleteTokenOnce()
    {
        await using var app = new ImagebinApp(settings: Settings());
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        Assert.Equal(Difficulty, challenge.GetProperty("difficulty_bits").GetInt32());

        using var response = await UploadAsync(client, TestImages.Jpeg(), challenge);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var item = await response.JsonAsync();
        var id = item.GetProperty("id").GetString()!;
        var token = item.GetProperty("delete_token").GetString()!;
        Assert.True(token.Length >= 40, token);
        Assert.Equal($"{ImagebinApp.BaseUrl}/delete/{id}#token={token}", item.GetProperty("delete_url").GetString());
        var expected = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeMilliseconds();
        Assert.InRange(item.GetProperty("expires_at").GetInt64(), expected - 60_000, expected + 1_000);

        var stored = await StoredAsync(app, id);
        Assert.Null(stored.OwnerId);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token))), stored.DeleteTokenHash);
        Assert.Equal(item.GetProperty("expires_at").GetInt64(), stored.ExpiresAt);

        var again = await client.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.False(again.TryGetProperty("delete_token", out _));
        Assert.False(again.TryGetProperty("delete_url", out _));
    }

    [Fact]
    public async Task Upload_ExpiresIn_IsHonouredWhenShorter_AndCappedWhenLonger()
    {
        await using var app = new ImagebinApp(settings: Settings(("Uploads:Anonymous:ExpiryDays", "2")));
        var client = app.Anonymous();

        var shorter = await UploadSolvedAsync(client, TestImages.Jpeg(seed: 1), r => r.Headers.Add("x-expires-in", "3600"));
        var longer = await UploadSolvedAsync(client, TestImages.Jpeg(seed: 2), r => r.Headers.Add("x-expires-in", "864000"));

        var now = DateTimeOffset.UtcNow;
        Assert.InRange(shorter.GetProperty("expires_at").GetInt64(), now.AddHours(1).AddMinutes(-1).ToUnixTimeMilliseconds(), now.AddHours(1).ToUnixTimeMilliseconds());
        Assert.InRange(longer.GetProperty("expires_at").GetInt64(), now.AddDays(2).AddMinutes(-1).ToUnixTimeMilliseconds(), now.AddDays(2).ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task Upload_WithoutChallenge_WithUnsolvedOrForgedOne_IsTurnstileFailed_AndStoresNothing()
    {
        await using var app = new ImagebinApp(settings: Settings());
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        var id = challenge.GetProperty("challenge_id").GetString()!;

        await (await UploadAsync(client, TestImages.Jpeg(), challenge: null)).AssertErrorAsync(403, "turnstile_failed");
        await (await UploadAsync(client, TestImages.Jpeg(), challenge, Unsolved(challenge))).AssertErrorAsync(403, "turnstile_failed");
        var forged = JsonDocument.Parse(JsonSerializer.Serialize(new { challenge_id = id[..^2] + (id[^2] == 'A' ? "B" : "A") + id[^1], prefix = challenge.GetProperty("prefix").GetString(), difficulty_bits = Difficulty })).RootElement;
        await (await UploadAsync(client, TestImages.Jpeg(), forged)).AssertErrorAsync(403, "turnstile_failed");

        await AssertNothingStoredAsync(app);
        // None of the refusals spent the challenge.
        using var solved = await UploadAsync(client, TestImages.Jpeg(), challenge);
        Assert.Equal(HttpStatusCode.Created, solved.StatusCode);
    }

    [Fact]
    public async Task Upload_WithAReusedChallenge_IsTurnstileFailed()
    {
        await using var app = new ImagebinApp(settings: Settings());
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        var nonce = PowSolver.Solve(challenge);
        using (var first = await UploadAsync(client, TestImages.Jpeg(seed: 1), challenge, nonce))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        await (await UploadAsync(client, TestImages.Jpeg(seed: 2), challenge, nonce)).AssertErrorAsync(403, "turnstile_failed");

        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        Assert.Equal(1, await db.Items.CountAsync());
    }

    [Fact]
    public async Task Upload_WithAnExpiredChallenge_IsTurnstileFailed_AndStoresNothing()
    {
        var clock = new TestClock();
        await using var app = new ImagebinApp(settings: Settings(("Uploads:Anonymous:ChallengeSeconds", "60")))
        {
            ExtraServices = services => services.AddSingleton<TimeProvider>(clock),
        };
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        clock.Offset = TimeSpan.FromSeconds(61);

        await (await UploadAsync(client, TestImages.Jpeg(), challenge)).AssertErrorAsync(403, "turnstile_failed");

        await AssertNothingStoredAsync(app);
    }

    [Fact]
    public async Task Challenges_AreBoundToTheirPurpose()
    {
        await using var app = new ImagebinApp(settings: Settings(("Authority:Pow:SignupsPerHour", "100")));
        var client = app.Anonymous();

        var signup = await ChallengeAsync(client, "/api/v1/auth/pow/challenge");
        await (await UploadAsync(client, TestImages.Jpeg(), signup)).AssertErrorAsync(403, "turnstile_failed");
        await AssertNothingStoredAsync(app);

        var upload = await ChallengeAsync(client);
        using var response = await client.PostAsJsonAsync("/api/v1/auth/pow/signup", new Dictionary<string, string>
        {
            ["challenge_id"] = upload.GetProperty("challenge_id").GetString()!,
            ["nonce"] = PowSolver.Solve(upload),
            ["display_name"] = "uploader",
        });
        await response.AssertErrorAsync(400, "invalid_request");
    }

    [Fact]
    public async Task Upload_OverTheAnonymousLimit_Is413_AndStoresNothing()
    {
        var image = TestImages.Jpeg(512, 512);
        await using var app = new ImagebinApp(settings: Settings(("Uploads:Anonymous:MaxBytes", (image.Length - 1).ToString())));
        var client = app.Anonymous();

        await (await UploadAsync(client, image, await ChallengeAsync(client))).AssertErrorAsync(413, "request_too_large");

        // Without Content-Length the limit holds while reading.
        var chunked = await ChallengeAsync(client);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new StreamContent(new MemoryStream(image)) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/jpeg");
        request.Headers.TransferEncodingChunked = true;
        request.Headers.Add("x-challenge-id", chunked.GetProperty("challenge_id").GetString());
        request.Headers.Add("x-challenge-nonce", PowSolver.Solve(chunked));
        await (await client.SendAsync(request)).AssertErrorAsync(413, "request_too_large");

        await AssertNothingStoredAsync(app);
        // A signed-in user's limit is unchanged.
        var owner = await app.OwnerAsync();
        await owner.UploadAsync(image);
    }

    [Fact]
    public async Task Upload_OverTheHourlyLimit_Is429WithRetryAfter()
    {
        await using var app = new ImagebinApp(settings: Settings(("Uploads:Anonymous:UploadsPerHour", "2")));
        var client = app.Anonymous();
        await UploadSolvedAsync(client, TestImages.Jpeg(seed: 1));
        await UploadSolvedAsync(client, TestImages.Jpeg(seed: 2));

        using var response = await UploadAsync(client, TestImages.Jpeg(seed: 3), await ChallengeAsync(client));

        await response.AssertErrorAsync(429, "rate_limited");
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 3600);
    }

    [Fact]
    public async Task Delete_WithTheToken_DeletesLikeTheOwner_AndOtherTokensAreNotFound()
    {
        await using var app = new ImagebinApp(settings: Settings());
        var client = app.Anonymous();
        var item = await UploadSolvedAsync(client, TestImages.Jpeg(seed: 1));
        var other = await UploadSolvedAsync(client, TestImages.Jpeg(seed: 2));
        var id = item.GetProperty("id").GetString()!;
        var token = item.GetProperty("delete_token").GetString()!;
        await WaitForServedAsync(client, item);

        await (await DeleteAsync(client, id, token[..^1] + (token[^1] == 'a' ? 'b' : 'a'))).AssertErrorAsync(404, "not_found");
        await (await DeleteAsync(client, id, other.GetProperty("delete_token").GetString()!)).AssertErrorAsync(404, "not_found");
        await (await client.DeleteAsync($"/api/v1/items/{id}")).AssertErrorAsync(401, "auth_required");
        // A GET carrying the token never deletes.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/v1/items/{id}?delete_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(item.PathOf("direct_url"))).StatusCode);

        using var response = await DeleteAsync(client, id, token);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await (await client.GetAsync(item.PathOf("direct_url"))).AssertErrorAsync(404, "not_found");
        await (await client.GetAsync($"/api/v1/items/{id}")).AssertErrorAsync(404, "not_found");
        await (await DeleteAsync(client, id, token)).AssertErrorAsync(404, "not_found");
        Assert.Single(await app.BlobKeysAsync());
    }

    [Fact]
    public async Task Delete_WithAToken_NeverDeletesAnOwnedItem()
    {
        await using var app = new ImagebinApp(settings: Settings());
        var owner = await app.OwnerAsync();
        var owned = await owner.UploadAsync(TestImages.Jpeg(seed: 1));
        var anonymous = await UploadSolvedAsync(app.Anonymous(), TestImages.Jpeg(seed: 2));

        await (await DeleteAsync(app.Anonymous(), owned.GetProperty("id").GetString()!, anonymous.GetProperty("delete_token").GetString()!))
            .AssertErrorAsync(404, "not_found");

        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/api/v1/items/{owned.GetProperty("id").GetString()}")).StatusCode);
    }

    [Fact]
    public async Task Disabled_KeepsKeylessUploadsRefused()
    {
        await using var app = new ImagebinApp(settings: Settings(("Uploads:Anonymous:Enabled", "false")));
        var client = app.Anonymous();
        var signup = await ChallengeAsync(client, "/api/v1/auth/pow/challenge");

        await (await client.GetAsync("/api/v1/uploads/challenge")).AssertErrorAsync(404, "not_found");
        await (await UploadAsync(client, TestImages.Jpeg(), challenge: null)).AssertErrorAsync(403, "turnstile_failed");
        await (await UploadAsync(client, TestImages.Jpeg(), signup)).AssertErrorAsync(403, "turnstile_failed");
        await AssertNothingStoredAsync(app);
    }

    /// <summary>Polls the direct URL until the scan has passed and the bytes are served.</summary>
    private static async Task WaitForServedAsync(HttpClient client, JsonElement item)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync(item.PathOf("direct_url"));
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Not served in time: {(int)response.StatusCode}");
            await Task.Delay(100);
        }
    }
}
