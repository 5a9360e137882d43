using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Media;
using Imagebin.Storage;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using NetVips;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// The moderation pipeline end to end, through HTTP, on both backends, with the real engines: clamd (started by
/// tests/services.sh with our own test signatures), PDQ, the ONNX classifier, the block lists and the review queue.
/// </summary>
public sealed class ModerationTests
{
    /// <summary>The EICAR test string, split so this file is not itself a test virus.</summary>
    private static readonly byte[] Eicar = Encoding.ASCII.GetBytes(
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");

    private static Dictionary<string, string?> WithClamd(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?> { ["Moderation:ClamAv:Endpoint"] = TestServices.RequireClamAv() };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A photograph (one of the PDQ reference images): detailed enough for a trustworthy perceptual hash.</summary>
    private static byte[] Photo(string name = "q0122.jpg") => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestData", "pdq", "labelme-subset", name));

    private static string Id(JsonElement item) => item.GetProperty("id").GetString()!;

    private static async Task<HttpClient> AdminAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var admin = await accounts.FindByNameAsync("moderator", CancellationToken.None)
            ?? (await accounts.CreateAsync("moderator", admin: true, password: "correct horse battery", CancellationToken.None)).Account;
        var key = await scope.ServiceProvider.GetRequiredService<ApiKeys>()
            .CreateAsync(admin.Id, ["image:read", "admin"], null, null, CancellationToken.None);
        return app.ClientWithKey(key.Token);
    }

    private static async Task<JsonElement> DecideAsync(HttpClient admin, string id, string decision, string reason = "checked", string? category = null)
    {
        using var response = await admin.PostAsJsonAsync($"/api/v1/admin/reviews/{id}", new { decision, reason, category });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string[] Stages(JsonElement item) =>
        [.. item.GetProperty("scan_evidence").EnumerateArray().Select(s => $"{s.GetProperty("stage").GetString()}:{s.GetProperty("engine").GetString()}:{s.GetProperty("outcome").GetString()}")];

    [Theory, Backends]
    public async Task CleanJpeg_Passes_WithWhatEveryStageDecided(Backend backend)
    {
        await using var app = new ImagebinApp(backend, WithClamd());
        var owner = await app.OwnerAsync();

        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(Photo())));

        Assert.Equal("passed", item.GetProperty("scan_state").GetString());
        Assert.Equal("safe", item.GetProperty("classification").GetString());
        Assert.Equal(
            ["malware:clamav:clean", "hash_list:sha256:no_match", "decode:libvips:decoded", "hash_list:pdq:no_match", "classifier:nsfw-mobilenetv2:safe"],
            Stages(item));
        var evidence = item.GetProperty("scan_evidence");
        Assert.StartsWith("ClamAV ", evidence[0].GetProperty("version").GetString());
        Assert.StartsWith("nsfwjs-4.4.0-mobilenet_v2@sha256:", evidence[4].GetProperty("version").GetString());
        Assert.True(evidence[4].GetProperty("scores").GetProperty("neutral").GetDouble() > 0.5);
        Assert.True(evidence[3].GetProperty("scores").GetProperty("quality").GetDouble() >= 50);
        using var response = await app.Anonymous().GetAsync(item.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // Others never see the pipeline's workings.
        var seen = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(item)}");
        Assert.False(seen.TryGetProperty("scan_evidence", out _));
        Assert.False(seen.TryGetProperty("scan_state", out _));
    }

    [Theory, Backends]
    public async Task EicarAppendedToJpeg_IsBlockedProhibited_AndNeverServed(Backend backend)
    {
        await using var app = new ImagebinApp(backend, WithClamd());
        var owner = await app.OwnerAsync();
        byte[] infected = [.. TestImages.Jpeg(64, 48, seed: 5), .. Eicar];

        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(infected)));

        Assert.Equal("blocked", item.GetProperty("scan_state").GetString());
        Assert.Equal("prohibited", item.GetProperty("classification").GetString());
        Assert.Contains("Imagebin.Test.EICAR", item.GetProperty("scan_reason").GetString());
        Assert.Equal(["malware:clamav:found"], Stages(item));
        foreach (var client in new[] { app.Anonymous(), owner })
        {
            using var direct = await client.GetAsync(item.PathOf("direct_url"));
            await direct.AssertErrorAsync(410, "gone");
        }
    }

    [Theory, Backends]
    public async Task ClamdDown_IsRetried_ThenFailedAndHeldForReview_NeverPassed(Backend backend)
    {
        var port = ClosedPort();
        await using var app = new ImagebinApp(backend, new()
        {
            ["Moderation:ClamAv:Endpoint"] = $"tcp://127.0.0.1:{port}",
            ["Jobs:MaxAttempts"] = "2",
        });
        var owner = await app.OwnerAsync();
        var admin = await AdminAsync(app);
        var id = Id(await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 6)));

        var item = await owner.WaitForScanAsync(id, TimeSpan.FromSeconds(60));

        Assert.Equal("failed", item.GetProperty("scan_state").GetString());
        Assert.Contains("clamd", item.GetProperty("scan_reason").GetString(), StringComparison.OrdinalIgnoreCase);
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync())
        {
            var job = await db.Jobs.SingleAsync(j => j.Payload == id);
            Assert.Equal(2, job.Attempts);
            Assert.Equal(JobState.Failed, job.State);
        }

        using var direct = await app.Anonymous().GetAsync(item.PathOf("direct_url"));
        await direct.AssertErrorAsync(503, "scan_pending");
        var queue = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/reviews");
        var first = queue.GetProperty("reviews")[0];
        Assert.Equal(id, first.GetProperty("item").GetProperty("id").GetString());
        Assert.Equal(0, first.GetProperty("review_rank").GetInt32());
    }

    [Theory, Backends]
    public async Task AfterRemoval_TheSamePicture_EvenReencodedResizedRotatedOrMirrored_IsBlocked(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var other = await app.OwnerAsync("bob");
        var admin = await AdminAsync(app);
        var original = Photo("q0291.jpg");
        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(original)));
        Assert.Equal("passed", item.GetProperty("scan_state").GetString());

        var removed = await DecideAsync(admin, Id(item), "remove", "copyright claim upheld", "copyright");

        Assert.Equal("removed", removed.GetProperty("item").GetProperty("scan_state").GetString());
        Assert.Equal("copyright", removed.GetProperty("removal").GetProperty("category").GetString());
        Assert.False(removed.GetProperty("removal").GetProperty("quarantined").GetBoolean());
        using (var gone = await app.Anonymous().GetAsync(item.PathOf("direct_url")))
        {
            await gone.AssertErrorAsync(410, "gone");
        }

        using (var gone = await app.Anonymous().GetAsync($"/api/v1/items/{Id(item)}"))
        {
            await gone.AssertErrorAsync(410, "gone");
        }

        using var decoded = Image.NewFromBuffer(original);
        var variants = new Dictionary<string, byte[]>
        {
            ["same bytes"] = original,
            ["quality 60"] = decoded.JpegsaveBuffer(q: 60),
            ["half size"] = decoded.Resize(0.5).JpegsaveBuffer(q: 85),
            ["rotated 90"] = decoded.Rot90().JpegsaveBuffer(q: 85),
            ["rotated 180"] = decoded.Rot180().JpegsaveBuffer(q: 70),
            ["rotated 270"] = decoded.Rot270().JpegsaveBuffer(q: 85),
            ["upside down"] = decoded.FlipVer().JpegsaveBuffer(q: 85),
            ["mirrored"] = decoded.FlipHor().PngsaveBuffer(),
        };
        foreach (var (name, bytes) in variants)
        {
            var copy = await other.WaitForScanAsync(Id(await other.UploadAsync(bytes, name == "mirrored" ? "image/png" : "image/jpeg")));
            Assert.True(copy.GetProperty("scan_state").GetString() == "blocked", $"{name}: {copy}");
            Assert.Equal("prohibited", copy.GetProperty("classification").GetString());
        }

        var unrelated = await other.WaitForScanAsync(Id(await other.UploadAsync(Photo("q0746.jpg"))));
        Assert.Equal("passed", unrelated.GetProperty("scan_state").GetString());

        var csv = await admin.GetStringAsync("/api/v1/admin/hashes");
        Assert.Contains($"sha256,{SHA(original)},block,removed: copyright claim upheld,removal:{Id(item)},", csv);
        Assert.Contains($"pdq,{removed.GetProperty("pdq_hash").GetString()},block,removed: copyright claim upheld,removal:{Id(item)},", csv);
        // The picture's eight real orientations are listed (fewer only when two coincide).
        Assert.InRange(csv.Split('\n').Count(line => line.StartsWith("pdq,", StringComparison.Ordinal)), 4, 8);
        var audit = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?item_id={Id(item)}");
        Assert.Equal("review.remove", audit.GetProperty("events")[0].GetProperty("action").GetString());
    }

    [Theory, Backends]
    public async Task RemovalOnOneNode_BlocksTheSamePictureUploadedToAnother(Backend backend)
    {
        // Two nodes over one store; each matches against its own in-memory copy of the list, which a removal elsewhere
        // must reach (a signal, and the size/newest-id check before every match).
        using var store = new SharedStore(backend);
        await using var a = store.Start();
        await using var b = store.Start();
        var owner = await a.OwnerAsync();
        var admin = await AdminAsync(a);
        var original = Photo("q1050.jpg");
        var other = await b.OwnerAsync("bob");
        // Node B has matched against the (empty) list once, so it holds a copy that must be refreshed.
        var warmUp = await other.WaitForScanAsync(Id(await other.UploadAsync(Photo("q2821.jpg"))));
        Assert.Equal("passed", warmUp.GetProperty("scan_state").GetString());
        var id = Id(await owner.WaitForScanAsync(Id(await owner.UploadAsync(original))));

        await DecideAsync(admin, id, "remove", "spam", "spam");

        using var decoded = Image.NewFromBuffer(original);
        var copy = await other.WaitForScanAsync(Id(await other.UploadAsync(decoded.Rot180().JpegsaveBuffer(q: 70))));
        Assert.True(copy.GetProperty("scan_state").GetString() == "blocked", copy.ToString());
    }

    [Theory, Backends]
    public async Task RemovalInAQuarantineCategory_KeepsTheBytes_ThroughOwnerDeleteAndSweeps(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var admin = await AdminAsync(app);
        var image = TestImages.Jpeg(80, 60, seed: 11);
        var id = Id(await owner.WaitForScanAsync(Id(await owner.UploadAsync(image))));

        var removed = await DecideAsync(admin, id, "remove", "reported to the authorities", "child_safety");
        Assert.True(removed.GetProperty("removal").GetProperty("quarantined").GetBoolean());

        // The owner may delete their item; the evidence stays.
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"/api/v1/items/{id}")).StatusCode);
        await app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<Maintenance>().Single().RunOnceAsync(CancellationToken.None);

        var store = app.Services.GetRequiredService<IBlobStore>();
        await using (var kept = await store.OpenReadAsync(BlobKeys.Quarantine(id, "jpg"), 0, null, CancellationToken.None))
        {
            using var bytes = new MemoryStream();
            await kept.CopyToAsync(bytes);
            Assert.Equal(SHA(image), SHA(bytes.ToArray()));
        }

        Assert.DoesNotContain(await app.BlobKeysAsync(), key => BlobKeys.Sha256Of(key) == SHA(image));
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        var record = await db.RemovalRecords.SingleAsync(r => r.ItemId == id);
        Assert.Equal(SHA(image), record.BlobSha256);
        Assert.Contains("\"id\":\"" + id + "\"", record.ItemSnapshot);
    }

    [Theory, Backends]
    public async Task HoldListMatch_IsHeld_ThenApprovedByAModerator(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var admin = await AdminAsync(app);
        var image = TestImages.Jpeg(64, 48, seed: 21);
        using var import = new StringContent($"kind,hash,action,reason\nsha256,{SHA(image)},hold,\"looks like spam, check\"\n", Encoding.UTF8, "text/csv");
        using (var imported = await admin.PostAsync("/api/v1/admin/hashes", import))
        {
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
            Assert.Equal(1, (await imported.JsonAsync()).GetProperty("imported").GetInt32());
        }

        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(image)));
        Assert.Equal("held", item.GetProperty("scan_state").GetString());
        Assert.Contains("looks like spam, check", item.GetProperty("scan_reason").GetString());
        using (var hidden = await app.Anonymous().GetAsync(item.PathOf("direct_url")))
        {
            await hidden.AssertErrorAsync(503, "scan_pending");
        }

        var queue = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/reviews");
        Assert.Equal(Id(item), queue.GetProperty("reviews")[0].GetProperty("item").GetProperty("id").GetString());

        var approved = await DecideAsync(admin, Id(item), "approve", "not spam");

        Assert.Equal("passed", approved.GetProperty("item").GetProperty("scan_state").GetString());
        Assert.Equal("review:moderator:approve", Stages(approved.GetProperty("item"))[^1]);
        using var served = await app.Anonymous().GetAsync(item.PathOf("direct_url"));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/reviews")).GetProperty("reviews").EnumerateArray());
    }

    [Theory, Backends]
    public async Task ClassifierThresholds_DecideSafeExplicitOrHeld(Backend backend)
    {
        // The real model on a real picture; the thresholds move the picture from one outcome to the other.
        await using (var app = new ImagebinApp(backend, new() { ["Moderation:Classifier:HoldThreshold"] = "0", ["Moderation:Classifier:ExplicitThreshold"] = "1" }))
        {
            var owner = await app.OwnerAsync();
            var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(Photo())));
            Assert.Equal("held", item.GetProperty("scan_state").GetString());
            Assert.Equal("classifier:nsfw-mobilenetv2:uncertain", Stages(item)[^1]);
        }

        await using (var app = new ImagebinApp(backend, new() { ["Moderation:Classifier:HoldThreshold"] = "0", ["Moderation:Classifier:ExplicitThreshold"] = "0" }))
        {
            var owner = await app.OwnerAsync();
            var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(Photo())));
            Assert.Equal("passed", item.GetProperty("scan_state").GetString());
            Assert.Equal("explicit", item.GetProperty("classification").GetString());
            var list = await owner.GetFromJsonAsync<JsonElement>("/api/v1/account/items?classification=explicit");
            Assert.Single(list.GetProperty("items").EnumerateArray());
        }
    }

    [Fact]
    public async Task AnimatedGif_IsClassifiedOnSeveralFrames()
    {
        await using var app = new ImagebinApp(settings: new() { ["Moderation:Classifier:MaxFrames"] = "3" });
        var owner = await app.OwnerAsync();
        using var frames = Image.Arrayjoin([.. Enumerable.Range(0, 5).Select(seed => TestImages.Picture(48, 32, seed))], across: 1);
        using var animated = frames.Mutate(m =>
        {
            m.Set(GValue.GIntType, "page-height", 32);
            m.Set(GValue.ArrayIntType, "delay", Enumerable.Repeat(100, 5).ToArray());
        });
        var gif = animated.GifsaveBuffer();

        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(gif, "image/gif")));

        Assert.Equal("passed", item.GetProperty("scan_state").GetString());
        var classifier = item.GetProperty("scan_evidence").EnumerateArray().Single(s => s.GetProperty("stage").GetString() == "classifier");
        Assert.Equal(3, classifier.GetProperty("scores").GetProperty("frames").GetInt32());
    }

    [Theory, Backends]
    public async Task Reports_QueueTheItem_AndEnoughDistinctReportersHideItUntilReviewed(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Moderation:ReportsToHide"] = "2" });
        var owner = await app.OwnerAsync();
        var admin = await AdminAsync(app);
        var carol = await app.OwnerAsync("carol", "image:read");
        var dave = await app.OwnerAsync("dave", "image:read");
        var item = await owner.WaitForScanAsync(Id(await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 31))));
        var id = Id(item);

        using (var first = await carol.PostAsJsonAsync("/api/v1/reports", new { item = item.GetProperty("view_url").GetString(), category = "harassment", details = "about me" }))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            Assert.Equal("received", (await first.JsonAsync()).GetProperty("status").GetString());
        }

        // The same reporter again counts once.
        using (var again = await carol.PostAsJsonAsync("/api/v1/reports", new { item = id, category = "spam" }))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal("already_reported", (await again.JsonAsync()).GetProperty("status").GetString());
        }

        var queued = (await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/reviews")).GetProperty("reviews")[0];
        Assert.Equal(1, queued.GetProperty("review_rank").GetInt32());
        Assert.Equal(1, queued.GetProperty("open_reports").GetInt32());
        Assert.Equal("about me", queued.GetProperty("reports")[0].GetProperty("details").GetString());
        using (var stillServed = await app.Anonymous().GetAsync(item.PathOf("direct_url")))
        {
            Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        }

        using (var second = await dave.PostAsJsonAsync("/api/v1/reports", new { item = item.GetProperty("direct_url").GetString(), category = "harassment" }))
        {
            Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        }

        var hidden = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("held", hidden.GetProperty("scan_state").GetString());
        using (var notServed = await app.Anonymous().GetAsync(item.PathOf("direct_url")))
        {
            await notServed.AssertErrorAsync(503, "scan_pending");
        }

        var approved = await DecideAsync(admin, id, "approve", "satire, allowed");
        Assert.Equal("passed", approved.GetProperty("item").GetProperty("scan_state").GetString());
        Assert.All(approved.GetProperty("reports").EnumerateArray(), r => Assert.Equal("approve", r.GetProperty("resolution").GetString()));
        using (var servedAgain = await app.Anonymous().GetAsync(item.PathOf("direct_url")))
        {
            Assert.Equal(HttpStatusCode.OK, servedAgain.StatusCode);
        }

        var audit = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?item_id={id}");
        Assert.Equal(["review.approve", "reports.hid", "report.filed", "report.filed"],
            audit.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("action").GetString()!).ToArray());
    }

    [Theory, Backends]
    public async Task Reports_RefuseWhatIsWrong(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Moderation:ReportsPerHour"] = "2" });
        var owner = await app.OwnerAsync();
        var reporter = await app.OwnerAsync("carol", "image:read");
        var item = await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 41));
        var secret = await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 42), configure: r => r.Headers.Add("x-private", "true"));

        using (var anonymous = await app.Anonymous().PostAsJsonAsync("/api/v1/reports", new { item = Id(item), category = "spam" }))
        {
            await anonymous.AssertErrorAsync(403, "turnstile_failed");
        }

        foreach (var (body, status, code) in new (object, int, string)[]
        {
            (new { item = Id(item), category = "bad-category" }, 400, "invalid_request"),
            (new { item = "../../etc", category = "spam" }, 400, "invalid_request"),
            (new { item = "NoSuchItem1", category = "spam" }, 404, "not_found"),
            (new { item = Id(secret), category = "spam" }, 404, "not_found"),
            (new { item = Id(item), category = "spam", details = new string('x', 2001) }, 400, "invalid_request"),
        })
        {
            using var response = await reporter.PostAsJsonAsync("/api/v1/reports", body);
            await response.AssertErrorAsync(status, code);
        }

        using (var notJson = await reporter.PostAsync("/api/v1/reports", new StringContent("{\"item\":", Encoding.UTF8, "application/json")))
        {
            await notJson.AssertErrorAsync(400, "invalid_json");
        }

        using (var form = await reporter.PostAsync("/api/v1/reports", new StringContent("item=x", Encoding.UTF8, "application/x-www-form-urlencoded")))
        {
            await form.AssertErrorAsync(415, "unsupported_media_type");
        }

        // With the secret the private item can be reported; then the hourly limit.
        Assert.Equal(HttpStatusCode.Created, (await reporter.PostAsJsonAsync("/api/v1/reports", new { item = secret.GetProperty("url").GetString(), category = "spam" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await reporter.PostAsJsonAsync("/api/v1/reports", new { item = Id(item), category = "spam" })).StatusCode);
        using var limited = await reporter.PostAsJsonAsync("/api/v1/reports", new { item = Id(item), category = "other" });
        await limited.AssertErrorAsync(429, "rate_limited");
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    [Theory, Backends]
    public async Task AdminApi_NeedsAnAdminAccount_AndTheAdminScope(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var user = await app.OwnerAsync();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            var alice = (await accounts.FindByNameAsync("alice", CancellationToken.None))!;
            var refused = await Assert.ThrowsAsync<ArgumentException>(() =>
                scope.ServiceProvider.GetRequiredService<ApiKeys>().CreateAsync(alice.Id, ["image:read", "admin"], null, null, CancellationToken.None));
            Assert.Contains("admin account", refused.Message);
            var root = (await accounts.CreateAsync("root", admin: true, password: "correct horse battery", CancellationToken.None)).Account;
            var withoutScope = await scope.ServiceProvider.GetRequiredService<ApiKeys>().CreateAsync(root.Id, ["image:read"], null, null, CancellationToken.None);
            using var response = await app.ClientWithKey(withoutScope.Token).GetAsync("/api/v1/admin/reviews");
            await response.AssertErrorAsync(403, "insufficient_scope");
            Assert.Contains("scope=\"admin\"", response.Headers.WwwAuthenticate.ToString());
        }

        foreach (var path in new[] { "/api/v1/admin/reviews", "/api/v1/admin/hashes", "/api/v1/admin/audit", "/api/v1/admin/reports" })
        {
            using var anonymous = await app.Anonymous().GetAsync(path);
            await anonymous.AssertErrorAsync(401, "auth_required");
            using var notAdmin = await user.GetAsync(path);
            await notAdmin.AssertErrorAsync(403, "insufficient_scope");
        }

        using var decide = await user.PostAsJsonAsync("/api/v1/admin/reviews/AnyItemId12", new { decision = "remove", reason = "x" });
        await decide.AssertErrorAsync(403, "insufficient_scope");
    }

    [Theory, Backends]
    public async Task Decisions_RefuseWhatIsWrong(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var admin = await AdminAsync(app);
        var id = Id(await owner.WaitForScanAsync(Id(await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 51)))));

        foreach (var (body, status, code) in new (object, int, string)[]
        {
            (new { decision = "delete", reason = "x" }, 400, "invalid_request"),
            (new { decision = "remove" }, 400, "invalid_request"),
            (new { decision = "remove", reason = "x", category = "nonsense" }, 400, "invalid_request"),
            (new { decision = "approve", reason = "x", classification = "prohibited" }, 400, "invalid_request"),
        })
        {
            using var response = await admin.PostAsJsonAsync($"/api/v1/admin/reviews/{id}", body);
            await response.AssertErrorAsync(status, code);
        }

        using (var missing = await admin.PostAsJsonAsync("/api/v1/admin/reviews/NoSuchItem1", new { decision = "approve", reason = "x" }))
        {
            await missing.AssertErrorAsync(404, "not_found");
        }

        using (var broken = await admin.PostAsync($"/api/v1/admin/reviews/{id}", new StringContent("[1,", Encoding.UTF8, "application/json")))
        {
            await broken.AssertErrorAsync(400, "invalid_json");
        }

        // Nothing above changed the item.
        Assert.Equal("passed", (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("scan_state").GetString());
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?item_id={id}")).GetProperty("events").EnumerateArray());
    }

    [Theory, Backends]
    public async Task HashImport_IsAllOrNothing_AndExportRoundTrips(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var admin = await AdminAsync(app);
        var good = string.Concat(Enumerable.Repeat("ab", 32));
        var pdq = string.Concat(Enumerable.Repeat("0f", 32));

        foreach (var (csv, line) in new[]
        {
            ($"kind,hash,action,reason\nsha256,{good},block,ok\nmd5,{good},block,x\n", "Line 3"),
            ($"kind,hash,action,reason\nsha256,{good},block,ok\npdq,{good[..60]},block,x\n", "Line 3"),
            ($"kind,hash,action,reason\nsha256,{good},ban,x\n", "Line 2"),
            ($"kind,hash,action,reason\nsha256,{good},block,\n", "Line 2"),
            ($"kind,hash,action\nsha256,{good},block\n", "reason"),
            ($"kind,hash,action,reason\nsha256,{good},block,\"never closed\n", "Line 2"),
        })
        {
            using var response = await admin.PostAsync("/api/v1/admin/hashes", new StringContent(csv, Encoding.UTF8, "text/csv"));
            await response.AssertErrorAsync(400, "invalid_request");
            Assert.Contains(line, (await response.JsonAsync()).GetProperty("detail").GetString());
        }

        Assert.Equal("kind,hash,action,reason,source,created_at", (await admin.GetStringAsync("/api/v1/admin/hashes")).Trim());
        using (var wrongType = await admin.PostAsync("/api/v1/admin/hashes", new StringContent("{}", Encoding.UTF8, "application/json")))
        {
            await wrongType.AssertErrorAsync(415, "unsupported_media_type");
        }

        var import = $"kind,hash,action,reason\r\nsha256,{good.ToUpperInvariant()},block,\"a \"\"quoted\"\", multi\nline reason\"\r\npdq,{pdq},hold,near duplicate\r\n";
        using (var imported = await admin.PostAsync("/api/v1/admin/hashes", new StringContent(import, Encoding.UTF8, "text/csv")))
        {
            Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
            Assert.Equal(2, (await imported.JsonAsync()).GetProperty("total").GetInt64());
        }

        var export = await admin.GetStringAsync("/api/v1/admin/hashes");
        // The export imports again as the same list.
        using (var again = await admin.PostAsync("/api/v1/admin/hashes", new StringContent(export, Encoding.UTF8, "text/csv")))
        {
            Assert.Equal(2, (await again.JsonAsync()).GetProperty("total").GetInt64());
        }

        Assert.Equal(export, await admin.GetStringAsync("/api/v1/admin/hashes"));
        Assert.Contains("\"a \"\"quoted\"\", multi\nline reason\"", export);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/admin/hashes/pdq/{pdq}")).StatusCode);
        await (await admin.DeleteAsync($"/api/v1/admin/hashes/pdq/{pdq}")).AssertErrorAsync(404, "not_found");
    }

    [Theory, Backends]
    public async Task UploadsDisabled_Answers503_AndStoresNothing(Backend backend)
    {
        await using var app = new ImagebinApp(backend, new() { ["Moderation:UploadsEnabled"] = "false" });
        var owner = await app.OwnerAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");

        using var response = await owner.SendAsync(request);

        await response.AssertErrorAsync(503, "uploads_disabled");
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Empty(await app.BlobKeysAsync());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServeBeforeScan_ServesPendingImages_OnlyWhenSwitchedOn(bool serveBeforeScan)
    {
        // clamd that never answers keeps the scan pending (retrying) for the whole test.
        await using var app = new ImagebinApp(settings: new()
        {
            ["Moderation:ClamAv:Endpoint"] = $"tcp://127.0.0.1:{ClosedPort()}",
            ["Moderation:ServeBeforeScan"] = serveBeforeScan ? "true" : "false",
        });
        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 61));
        Assert.Equal("pending", item.GetProperty("scan_state").GetString());
        // The owner watches it go from pending to scanning (where it stays while clamd cannot be reached).
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(item)}")).GetProperty("scan_state").GetString() != "scanning")
        {
            Assert.True(DateTime.UtcNow < deadline, "the scan never started");
            await Task.Delay(50);
        }

        using var response = await app.Anonymous().GetAsync(item.PathOf("direct_url"));

        if (serveBeforeScan)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.AssertNotCacheable();
        }
        else
        {
            await response.AssertErrorAsync(503, "scan_pending");
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static string SHA(byte[] bytes) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
}
