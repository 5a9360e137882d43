using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Accounts;

/// <summary>
/// Agent sign-up by proof of work (issue 6), over HTTP on both backends: a client that solves a challenge gets an account
/// and a key that works; every way a sign-up can be wrong is refused with nothing written; challenges are single-use
/// across nodes, expire, and both endpoints are rate-limited.
/// </summary>
public sealed class PowSignupTests
{
    private const int Difficulty = 12;

    private static Dictionary<string, string?> Settings(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Authority:Pow:DifficultyBits"] = Difficulty.ToString(),
            ["Authority:Pow:ChallengesPerMinute"] = "1000",
            ["Authority:Pow:SignupsPerHour"] = "1000",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A clock the test moves: shifted ahead by <see cref="Offset"/>, or stopped at <see cref="Frozen"/>.</summary>
    private sealed class TestClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public DateTimeOffset? Frozen { get; set; }

        public override DateTimeOffset GetUtcNow() => (Frozen ?? base.GetUtcNow()) + Offset;
    }

    private static int Work(string prefix, string nonce) => PowSolver.Work(prefix, nonce);

    private static string Solve(JsonElement challenge) => PowSolver.Solve(challenge);

    /// <summary>A nonce that falls short of the difficulty.</summary>
    private static string Unsolved(JsonElement challenge)
    {
        var prefix = challenge.GetProperty("prefix").GetString()!;
        var bits = challenge.GetProperty("difficulty_bits").GetInt32();
        for (var i = 0; ; i++)
        {
            if (Work(prefix, $"x{i}") < bits)
            {
                return $"x{i}";
            }
        }
    }

    private static async Task<JsonElement> ChallengeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/api/v1/auth/pow/challenge");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Task<HttpResponseMessage> SignupAsync(HttpClient client, JsonElement challenge, string nonce, string name) =>
        SignupAsync(client, challenge.GetProperty("challenge_id").GetString()!, nonce, name);

    private static Task<HttpResponseMessage> SignupAsync(HttpClient client, string challengeId, string nonce, string name) =>
        client.PostAsJsonAsync("/api/v1/auth/pow/signup", new Dictionary<string, string> { ["challenge_id"] = challengeId, ["nonce"] = nonce, ["display_name"] = name });

    private static Task<HttpResponseMessage> PostRawAsync(HttpClient client, string body, string contentType = "application/json") =>
        client.PostAsync("/api/v1/auth/pow/signup", new StringContent(body, Encoding.UTF8, contentType));

    private static async Task<(int Accounts, int Keys)> CountAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        return (await db.Accounts.CountAsync(), await db.ApiKeys.CountAsync());
    }

    [Theory, Backends]
    public async Task SolvedChallenge_CreatesAnAccountWhoseKeyUploadsAndLists_AndTheChallengeIsSpent(Backend backend)
    {
        await using var app = new ImagebinApp(backend, Settings());
        var client = app.Anonymous();

        var challenge = await ChallengeAsync(client);
        Assert.Equal(Difficulty, challenge.GetProperty("difficulty_bits").GetInt32());
        Assert.False(string.IsNullOrEmpty(challenge.GetProperty("prefix").GetString()));
        var expiresAt = challenge.GetProperty("expires_at").GetInt64();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(expiresAt, now + 290_000, now + 301_000);
        var nonce = Solve(challenge);

        using var response = await SignupAsync(client, challenge, nonce, "agent-007");

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {text}");
        Assert.True(response.Headers.CacheControl?.NoStore, "a response carrying a key must not be stored");
        var body = JsonDocument.Parse(text).RootElement;
        Assert.Equal(["account", "api_key", "key_id", "scopes", "audience"], body.EnumerateObject().Select(p => p.Name));
        var account = body.GetProperty("account");
        Assert.Equal(["id", "name", "role", "ai_optout", "created_at"], account.EnumerateObject().Select(p => p.Name));
        Assert.Equal("agent-007", account.GetProperty("name").GetString());
        Assert.Equal("user", account.GetProperty("role").GetString());
        Assert.False(account.GetProperty("ai_optout").GetBoolean());
        var key = body.GetProperty("api_key").GetString()!;
        Assert.StartsWith("pbca_live_", key);
        Assert.Contains(body.GetProperty("key_id").GetString()!, key);
        Assert.Equal(["image:create", "image:read", "image:delete"], body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(ImagebinApp.BaseUrl, body.GetProperty("audience").GetString());

        // The key is the account's credential: it uploads, lists and reads the account.
        var agent = app.ClientWithKey(key);
        var item = await agent.UploadAsync(TestImages.Jpeg(seed: 6));
        var list = await agent.GetFromJsonAsync<JsonElement>("/api/v1/account/items");
        Assert.Contains(list.GetProperty("items").EnumerateArray(), i => i.GetProperty("id").GetString() == item.GetProperty("id").GetString());
        var me = await agent.GetFromJsonAsync<JsonElement>("/api/v1/account");
        Assert.Equal(account.GetProperty("id").GetString(), me.GetProperty("id").GetString());

        // The same solution again, even for another name, is refused, and writes nothing.
        var before = await CountAsync(app);
        using var again = await SignupAsync(client, challenge, nonce, "agent-008");
        await again.AssertErrorAsync(400, "invalid_request");
        Assert.Contains("already been used", (await again.JsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(before, await CountAsync(app));
    }

    [Theory, Backends]
    public async Task EveryBadSignup_IsRefused_AndWritesNothing(Backend backend)
    {
        await using var app = new ImagebinApp(backend, Settings());
        await app.CreateKeyAsync("alice");
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        var id = challenge.GetProperty("challenge_id").GetString()!;
        var nonce = Solve(challenge);
        var before = await CountAsync(app);

        async Task Refused(Task<HttpResponseMessage> sending, int status, string code, string? detail = null)
        {
            using var response = await sending;
            await response.AssertErrorAsync(status, code);
            if (detail is not null)
            {
                Assert.Contains(detail, (await response.JsonAsync()).GetProperty("detail").GetString());
            }

            Assert.Equal(before, await CountAsync(app));
        }

        // A tampered challenge: a character flipped in the signed payload, in the signature, or one cut off.
        static string Flip(string s, int at) => s[..at] + (s[at] == 'A' ? 'B' : 'A') + s[(at + 1)..];
        await Refused(SignupAsync(client, Flip(id, 5), nonce, "bob"), 400, "invalid_request", "not a challenge this site issued");
        await Refused(SignupAsync(client, Flip(id, id.Length - 3), nonce, "bob"), 400, "invalid_request", "not a challenge this site issued");
        await Refused(SignupAsync(client, id[..^1], nonce, "bob"), 400, "invalid_request");
        await Refused(SignupAsync(client, "", nonce, "bob"), 400, "invalid_request");
        await Refused(SignupAsync(client, new string('A', 200), nonce, "bob"), 400, "invalid_request");
        // A solution that does not meet the difficulty.
        await Refused(SignupAsync(client, challenge, Unsolved(challenge), "bob"), 400, "invalid_request", "leading zero bits");
        // Nonces out of bounds: too long, not printable ASCII, empty.
        await Refused(SignupAsync(client, challenge, new string('0', 65), "bob"), 400, "invalid_request", "nonce");
        await Refused(SignupAsync(client, challenge, "é" + nonce, "bob"), 400, "invalid_request", "nonce");
        await Refused(SignupAsync(client, challenge, "", "bob"), 400, "invalid_request", "nonce");
        // Names the account rules refuse, and a taken one.
        await Refused(SignupAsync(client, challenge, nonce, new string('b', 65)), 400, "invalid_request", "display_name");
        await Refused(SignupAsync(client, challenge, nonce, "bob smith"), 400, "invalid_request", "display_name");
        await Refused(SignupAsync(client, challenge, nonce, ""), 400, "invalid_request", "display_name");
        await Refused(SignupAsync(client, challenge, nonce, "alice"), 400, "invalid_request", "taken");
        // Bodies that are not a sign-up.
        var good = JsonSerializer.Serialize(new Dictionary<string, string> { ["challenge_id"] = id, ["nonce"] = nonce, ["display_name"] = "bob" });
        await Refused(PostRawAsync(client, good, "text/plain"), 415, "unsupported_media_type");
        await Refused(PostRawAsync(client, good[..^1]), 400, "invalid_json");
        await Refused(PostRawAsync(client, "[]"), 400, "invalid_json");
        await Refused(PostRawAsync(client, "null"), 400, "invalid_json");
        await Refused(PostRawAsync(client, $"{{\"challenge_id\":\"{id}\",\"nonce\":{nonce},\"display_name\":\"bob\"}}"), 400, "invalid_json");
        await Refused(PostRawAsync(client, $"{{\"challenge_id\":\"{id}\",\"nonce\":\"{nonce}\"}}"), 400, "invalid_request", "required");
        await Refused(PostRawAsync(client, "{}"), 400, "invalid_request", "required");
        await Refused(PostRawAsync(client, $"{{\"challenge_id\":\"{id}\",\"nonce\":\"{nonce}\",\"display_name\":\"{new string('b', 5000)}\"}}"), 413, "request_too_large");

        // None of these spent the challenge (a taken name costs a retry, not a new proof): it still signs up once.
        using var response = await SignupAsync(client, challenge, nonce, "bob");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal((before.Accounts + 1, before.Keys + 1), await CountAsync(app));
    }

    [Theory, Backends]
    public async Task ExpiredChallenge_IsRefused(Backend backend)
    {
        var clock = new TestClock();
        await using var app = new ImagebinApp(backend, Settings(new() { ["Authority:Pow:ChallengeSeconds"] = "60" }))
        {
            ExtraServices = services => services.AddSingleton<TimeProvider>(clock),
        };
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        Assert.InRange(challenge.GetProperty("expires_at").GetInt64() - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 50_000, 61_000);
        var nonce = Solve(challenge);
        var before = await CountAsync(app);

        clock.Offset = TimeSpan.FromSeconds(61);
        using var response = await SignupAsync(client, challenge, nonce, "late-agent");

        await response.AssertErrorAsync(400, "invalid_request");
        Assert.Contains("expired", (await response.JsonAsync()).GetProperty("detail").GetString());
        Assert.Equal(before, await CountAsync(app));

        // A fresh one, fetched and answered in time, works on the same clock.
        var fresh = await ChallengeAsync(client);
        using var ok = await SignupAsync(client, fresh, Solve(fresh), "late-agent");
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
    }

    [Theory, Backends]
    public async Task BothEndpoints_AreRateLimitedPerAddress_WithRetryAfter(Backend backend)
    {
        // Stopped mid-window, so the limits cannot reset between the calls.
        var now = DateTimeOffset.UtcNow;
        var clock = new TestClock { Frozen = now - TimeSpan.FromMilliseconds(now.ToUnixTimeMilliseconds() % 3_600_000) + TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(20) };
        await using var app = new ImagebinApp(backend, Settings(new() { ["Authority:Pow:ChallengesPerMinute"] = "3", ["Authority:Pow:SignupsPerHour"] = "2", ["Authority:Pow:ChallengeSeconds"] = "3600" }))
        {
            ExtraServices = services => services.AddSingleton<TimeProvider>(clock),
        };
        var client = app.Anonymous();
        var challenge = await ChallengeAsync(client);
        await ChallengeAsync(client);
        await ChallengeAsync(client);

        using var tooMany = await client.GetAsync("/api/v1/auth/pow/challenge");
        await tooMany.AssertErrorAsync(429, "rate_limited");
        Assert.Equal(TimeSpan.FromSeconds(40), tooMany.Headers.RetryAfter?.Delta);

        // Failed attempts count too; then even a correct one waits.
        var nonce = Solve(challenge);
        await (await PostRawAsync(client, "{")).AssertErrorAsync(400, "invalid_json");
        await (await SignupAsync(client, challenge, Unsolved(challenge), "rate-agent")).AssertErrorAsync(400, "invalid_request");
        var before = await CountAsync(app);
        using var limited = await SignupAsync(client, challenge, nonce, "rate-agent");
        await limited.AssertErrorAsync(429, "rate_limited");
        Assert.Equal(TimeSpan.FromSeconds(30 * 60 - 20), limited.Headers.RetryAfter?.Delta);
        Assert.Equal(before, await CountAsync(app));

        // The next window opens again, and the refused challenge was not spent.
        clock.Offset = TimeSpan.FromMinutes(31);
        using var later = await SignupAsync(client, challenge, nonce, "rate-agent");
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
    }

    [Theory, Backends]
    public async Task Challenge_IsAcceptedByAnyNode_ButOnlyOnce(Backend backend)
    {
        // No Authority:PowSecret: the nodes agree through the secret kept in the shared store.
        using var store = new SharedStore(backend);
        await using var a = store.Start(Settings());
        await using var b = store.Start(Settings());
        var challenge = await ChallengeAsync(a.Anonymous());
        var nonce = Solve(challenge);

        using var onB = await SignupAsync(b.Anonymous(), challenge, nonce, "agent-b");
        Assert.Equal(HttpStatusCode.Created, onB.StatusCode);
        using var onA = await SignupAsync(a.Anonymous(), challenge, nonce, "agent-a");
        await onA.AssertErrorAsync(400, "invalid_request");

        // Raced on both nodes at once: exactly one wins.
        var before = await CountAsync(a);
        var raced = await ChallengeAsync(b.Anonymous());
        var solution = Solve(raced);
        var answers = await Task.WhenAll(
            SignupAsync(a.Anonymous(), raced, solution, "racer-a"),
            SignupAsync(b.Anonymous(), raced, solution, "racer-b"));
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.BadRequest], answers.Select(r => r.StatusCode).Order());
        Assert.Equal((before.Accounts + 1, before.Keys + 1), await CountAsync(a));

        // A node restarted over the store still knows the secret.
        await using var c = store.Start(Settings());
        var late = await ChallengeAsync(a.Anonymous());
        using var onC = await SignupAsync(c.Anonymous(), late, Solve(late), "agent-c");
        Assert.Equal(HttpStatusCode.Created, onC.StatusCode);
    }

    [Theory, Backends]
    public async Task ConfiguredSecret_SignsChallenges_AndAShortOneStopsStartUp(Backend backend)
    {
        await using var a = new ImagebinApp(backend, Settings(new() { ["Authority:PowSecret"] = new string('a', 40) }));
        await using var b = new ImagebinApp(backend, Settings(new() { ["Authority:PowSecret"] = new string('b', 40) }));
        var challenge = await ChallengeAsync(a.Anonymous());

        using var elsewhere = await SignupAsync(b.Anonymous(), challenge, Solve(challenge), "agent");
        await elsewhere.AssertErrorAsync(400, "invalid_request");
        using var here = await SignupAsync(a.Anonymous(), challenge, Solve(challenge), "agent");
        Assert.Equal(HttpStatusCode.Created, here.StatusCode);

        await using var weak = new ImagebinApp(backend, Settings(new() { ["Authority:PowSecret"] = "short" }));
        var error = Assert.ThrowsAny<Exception>(() => weak.CreateClient());
        Assert.Contains("Authority:PowSecret", error.ToString());
    }
}
