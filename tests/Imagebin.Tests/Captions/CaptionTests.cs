using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Admin;
using Imagebin.Features.Captions;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Captions;

/// <summary>
/// The caption stage end to end (DESIGN.md §9): the state machine, opt-out before, during and after captioning, per item
/// and per account, failures, withdrawn images, search, and the recaption command. The built-in offline captioner runs
/// unless a test puts a scripted one in its place (to hold a caption mid-way or make it fail).
/// </summary>
public sealed class CaptionTests
{
    private static string Id(JsonElement item) => item.GetProperty("id").GetString()!;

    /// <summary>Polls the owner's view until the caption stage has settled.</summary>
    private static async Task<JsonElement> WaitForCaptionAsync(HttpClient owner, string id, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var item = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
            var state = item.GetProperty("ai_caption_state").GetString();
            if (state is not ("pending" or "processing") && item.GetProperty("scan_state").GetString() is not ("pending" or "scanning"))
            {
                return item;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Item {id} still {state}.");
            await Task.Delay(50);
        }
    }

    private static Task<HttpResponseMessage> PatchAsync(HttpClient client, string path, string json) =>
        client.PatchAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Theory, Backends]
    public async Task FreshUpload_IsCaptioned_TheSameWayEveryTime(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var other = await app.OwnerAsync("bob");
        var image = TestImages.Jpeg(96, 64, seed: 3);

        var first = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(image)));
        var second = await WaitForCaptionAsync(other, Id(await other.UploadAsync(image)));

        Assert.Equal("ready", first.GetProperty("ai_caption_state").GetString());
        var caption = first.GetProperty("ai_caption").GetString();
        Assert.False(string.IsNullOrWhiteSpace(caption));
        Assert.True(caption!.Length <= 200);
        var tags = first.GetProperty("ai_tags").EnumerateArray().Select(t => t.GetString()!).ToArray();
        Assert.NotEmpty(tags);
        Assert.All(tags, t => Assert.Equal(t.ToLowerInvariant(), t));
        Assert.StartsWith("offline:", first.GetProperty("ai_caption_source").GetString());
        Assert.Equal(caption, second.GetProperty("ai_caption").GetString());
        Assert.Equal(tags, second.GetProperty("ai_tags").EnumerateArray().Select(t => t.GetString()!).ToArray());
        // The owner's own tags are not mixed with the AI's.
        Assert.Empty(first.GetProperty("tags").EnumerateArray());

        // Others see the caption and tags of a public item, never the pipeline's state.
        var seen = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(first)}");
        Assert.Equal(caption, seen.GetProperty("ai_caption").GetString());
        Assert.Equal(tags.Length, seen.GetProperty("ai_tags").GetArrayLength());
        foreach (var hidden in new[] { "ai_caption_state", "ai_optout", "ai_caption_source", "ai_caption_error" })
        {
            Assert.False(seen.TryGetProperty(hidden, out _), hidden);
        }

        // q finds the item by an AI tag.
        var found = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/account/items?q={Uri.EscapeDataString(tags[0])}");
        Assert.Contains(found.GetProperty("items").EnumerateArray(), i => Id(i) == Id(first));
    }

    [Theory, Backends]
    public async Task OptOutOnUpload_NeverCaptions(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();

        var item = await owner.UploadAsync(TestImages.Jpeg(seed: 4), configure: r => r.Headers.Add("x-ai-optout", "true"));
        await owner.WaitForScanAsync(Id(item));
        await Task.Delay(300);

        var seen = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(item)}");
        Assert.Equal("opted_out", seen.GetProperty("ai_caption_state").GetString());
        Assert.True(seen.GetProperty("ai_optout").GetBoolean());
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("ai_caption").ValueKind);
        Assert.Empty(seen.GetProperty("ai_tags").EnumerateArray());
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        Assert.False(await db.Jobs.AnyAsync(j => j.Kind == CaptionJob.JobKind && j.Payload == Id(item)));
    }

    [Theory, Backends]
    public async Task AccountDefault_OptsNewUploadsOut(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var before = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(TestImages.Jpeg(seed: 5))));

        using (var patched = await PatchAsync(owner, "/api/v1/account", """{"ai_optout":true}"""))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
            Assert.True((await patched.JsonAsync()).GetProperty("ai_optout").GetBoolean());
        }

        Assert.True((await owner.GetFromJsonAsync<JsonElement>("/api/v1/account")).GetProperty("ai_optout").GetBoolean());
        var after = await owner.UploadAsync(TestImages.Jpeg(seed: 6));
        Assert.Equal("opted_out", after.GetProperty("ai_caption_state").GetString());
        // An explicit header still wins over the default.
        var optedIn = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(TestImages.Jpeg(seed: 7), configure: r => r.Headers.Add("x-ai-optout", "false"))));
        Assert.Equal("ready", optedIn.GetProperty("ai_caption_state").GetString());
        // Existing items keep their own setting.
        Assert.Equal("ready", (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(before)}")).GetProperty("ai_caption_state").GetString());

        foreach (var (body, status, code) in new[]
        {
            ("""{"ai_optout":"yes"}""", 400, "invalid_request"),
            ("""{"name":"x"}""", 400, "invalid_request"),
            ("[true]", 400, "invalid_json"),
            ("{", 400, "invalid_json"),
        })
        {
            using var response = await PatchAsync(owner, "/api/v1/account", body);
            await response.AssertErrorAsync(status, code);
        }

        using (var form = await owner.PatchAsync("/api/v1/account", new StringContent("ai_optout=true", Encoding.UTF8, "application/x-www-form-urlencoded")))
        {
            await form.AssertErrorAsync(415, "unsupported_media_type");
        }

        await (await app.Anonymous().GetAsync("/api/v1/account")).AssertErrorAsync(401, "auth_required");
        var readOnly = await app.OwnerAsync("carol", "image:read");
        await (await PatchAsync(readOnly, "/api/v1/account", """{"ai_optout":true}""")).AssertErrorAsync(403, "insufficient_scope");
    }

    [Theory, Backends]
    public async Task OptOutAfterCaptioning_ClearsAtOnce_AndOptingBackInCaptionsAgain(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var ready = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(TestImages.Jpeg(seed: 8))));
        Assert.Equal("ready", ready.GetProperty("ai_caption_state").GetString());

        using (var optOut = await PatchAsync(owner, $"/api/v1/items/{Id(ready)}", """{"ai_optout":true}"""))
        {
            var body = await optOut.JsonAsync();
            Assert.Equal("opted_out", body.GetProperty("ai_caption_state").GetString());
            Assert.Equal(JsonValueKind.Null, body.GetProperty("ai_caption").ValueKind);
            Assert.Empty(body.GetProperty("ai_tags").EnumerateArray());
        }

        var seen = await app.Anonymous().GetFromJsonAsync<JsonElement>($"/api/v1/items/{Id(ready)}");
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("ai_caption").ValueKind);

        using (var optIn = await PatchAsync(owner, $"/api/v1/items/{Id(ready)}", """{"ai_optout":false}"""))
        {
            Assert.Equal("pending", (await optIn.JsonAsync()).GetProperty("ai_caption_state").GetString());
        }

        var again = await WaitForCaptionAsync(owner, Id(ready));
        Assert.Equal("ready", again.GetProperty("ai_caption_state").GetString());
        Assert.Equal(ready.GetProperty("ai_caption").GetString(), again.GetProperty("ai_caption").GetString());
    }

    [Theory, Backends]
    public async Task OptOutDuringCaptioning_Wins_AndNothingIsWritten(Backend backend)
    {
        var captioner = new ScriptedCaptioner { Hold = new TaskCompletionSource() };
        await using var app = new ImagebinApp(backend) { ExtraServices = s => s.AddSingleton<ICaptioner>(captioner) };
        var owner = await app.OwnerAsync();
        var id = Id(await owner.UploadAsync(TestImages.Jpeg(seed: 9)));
        await captioner.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("processing", (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("ai_caption_state").GetString());

        using (var optOut = await PatchAsync(owner, $"/api/v1/items/{id}", """{"ai_optout":true}"""))
        {
            Assert.Equal(HttpStatusCode.OK, optOut.StatusCode);
        }

        captioner.Hold.SetResult();
        await WaitForJobsAsync(app);

        var item = await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}");
        Assert.Equal("opted_out", item.GetProperty("ai_caption_state").GetString());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("ai_caption").ValueKind);
        await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
        var row = await db.Items.SingleAsync(i => i.Id == id);
        Assert.Null(row.AiCaption);
        Assert.Equal("", row.AiTags);
    }

    [Theory, Backends]
    public async Task OptOutBeforeCaptioning_CancelsTheQueuedWork(Backend backend)
    {
        var captioner = new ScriptedCaptioner { Hold = new TaskCompletionSource() };
        await using var app = new ImagebinApp(backend, new() { ["Jobs:Concurrency"] = "1" }) { ExtraServices = s => s.AddSingleton<ICaptioner>(captioner) };
        var owner = await app.OwnerAsync();
        // An opted-out image is scanned while the one worker is free; then the worker is kept busy captioning another
        // image, so when the first opts in, its caption job waits in the queue.
        var id = Id(await owner.UploadAsync(TestImages.Jpeg(seed: 11), configure: r => r.Headers.Add("x-ai-optout", "true")));
        await owner.WaitForScanAsync(id);
        var busy = Id(await owner.UploadAsync(TestImages.Jpeg(seed: 10)));
        await captioner.Started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using (var optIn = await PatchAsync(owner, $"/api/v1/items/{id}", """{"ai_optout":false}"""))
        {
            Assert.Equal("pending", (await optIn.JsonAsync()).GetProperty("ai_caption_state").GetString());
        }

        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync())
        {
            Assert.True(await db.Jobs.AnyAsync(j => j.Kind == CaptionJob.JobKind && j.Payload == id && j.State == JobState.Queued));
        }

        await PatchAsync(owner, $"/api/v1/items/{id}", """{"ai_optout":true}""");
        captioner.Hold.SetResult();
        await WaitForJobsAsync(app);

        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync())
        {
            Assert.False(await db.Jobs.AnyAsync(j => j.Kind == CaptionJob.JobKind && j.Payload == id));
        }

        Assert.Equal(1, captioner.Calls);
        Assert.Equal("opted_out", (await owner.GetFromJsonAsync<JsonElement>($"/api/v1/items/{id}")).GetProperty("ai_caption_state").GetString());
        Assert.Equal("ready", (await WaitForCaptionAsync(owner, busy)).GetProperty("ai_caption_state").GetString());
    }

    [Theory, Backends]
    public async Task CaptionerFailing_IsRetried_ThenFailed_WithTheItemIntact(Backend backend)
    {
        var captioner = new ScriptedCaptioner { FailFirst = int.MaxValue };
        await using var app = new ImagebinApp(backend, new() { ["Jobs:MaxAttempts"] = "2" }) { ExtraServices = s => s.AddSingleton<ICaptioner>(captioner) };
        var owner = await app.OwnerAsync();
        var id = Id(await owner.UploadAsync(TestImages.Jpeg(seed: 12), configure: r => r.Headers.Add("x-title", "Kept")));

        var item = await WaitForCaptionAsync(owner, id, TimeSpan.FromSeconds(60));

        Assert.Equal("failed", item.GetProperty("ai_caption_state").GetString());
        Assert.Contains("model unavailable", item.GetProperty("ai_caption_error").GetString());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("ai_caption").ValueKind);
        Assert.Equal("Kept", item.GetProperty("title").GetString());
        Assert.Equal("passed", item.GetProperty("scan_state").GetString());
        Assert.Equal(2, captioner.Calls);

        // The recaption command queues failed items again; this time the captioner answers.
        captioner.FailFirst = 0;
        var output = new StringWriter();
        Assert.Equal(0, await AdminCommands.RunAsync(app.Services, ["captions", "run", "--state", "failed"], output, new StringWriter()));
        Assert.Contains("Queued 1 items", output.ToString());
        var recaptioned = await WaitForCaptionAsync(owner, id);
        Assert.Equal("ready", recaptioned.GetProperty("ai_caption_state").GetString());
        Assert.Equal("A scripted caption.", recaptioned.GetProperty("ai_caption").GetString());
        Assert.Equal(JsonValueKind.Null, recaptioned.GetProperty("ai_caption_error").ValueKind);
    }

    [Theory, Backends]
    public async Task BlockedImage_IsSkipped(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(seed: 13);
        await using (var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync())
        {
            db.HashListEntries.Add(new HashListEntry
            {
                Kind = HashKinds.Sha256,
                Hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image)),
                Action = HashActions.Block,
                Reason = "test",
                Source = "import",
            });
            await db.SaveChangesAsync();
        }

        var item = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(image)));

        Assert.Equal("blocked", item.GetProperty("scan_state").GetString());
        Assert.Equal("skipped", item.GetProperty("ai_caption_state").GetString());
    }

    [Theory]
    [InlineData("OpenAI")]
    [InlineData("Ollama")]
    public async Task VisionEndpoint_AnswerLandsOnTheItem_AndAFailingOneEndsFailed(string provider)
    {
        await using var server = await FakeVisionServer.StartAsync();
        server.Answer = """{"caption": "A red square on a white background.", "tags": ["Red", "square"]}""";
        await using var app = new ImagebinApp(settings: new()
        {
            ["Captions:Provider"] = provider,
            ["Captions:Endpoint"] = provider == "OpenAI" ? $"{server.BaseUrl}/v1" : server.BaseUrl,
            ["Captions:Model"] = "test-vl",
            ["Captions:TimeoutSeconds"] = "5",
            ["Jobs:MaxAttempts"] = "2",
        });
        var owner = await app.OwnerAsync();

        var item = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(TestImages.JpegWithGps(200, 120))));

        Assert.Equal("ready", item.GetProperty("ai_caption_state").GetString());
        Assert.Equal("A red square on a white background.", item.GetProperty("ai_caption").GetString());
        Assert.Equal(["red", "square"], item.GetProperty("ai_tags").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal($"{provider.ToLowerInvariant()}:test-vl", item.GetProperty("ai_caption_source").GetString());
        var sent = server.Requests.Single();
        Assert.Equal("test-vl", (string?)sent.Body["model"]);
        if (provider == "OpenAI")
        {
            Assert.Contains("\"url\":\"data:image/jpeg;base64,", sent.Body.ToJsonString(), StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains(sent.Body["messages"]!.AsArray(), m => m!["images"] is { } images && images.AsArray().Count == 1);
        }

        // A broken endpoint: one attempt per job run, then failed; the item is otherwise untouched.
        server.StatusCode = 500;
        var broken = await WaitForCaptionAsync(owner, Id(await owner.UploadAsync(TestImages.Jpeg(seed: 14), configure: r => r.Headers.Add("x-title", "Kept"))), TimeSpan.FromSeconds(60));
        Assert.Equal("failed", broken.GetProperty("ai_caption_state").GetString());
        Assert.Contains("500", broken.GetProperty("ai_caption_error").GetString());
        Assert.Equal("Kept", broken.GetProperty("title").GetString());
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task CaptionsRun_RefusesWhatIsWrong()
    {
        await using var app = new ImagebinApp();
        foreach (var args in new[] { new[] { "captions", "run" }, ["captions", "run", "--state", "nonsense"], ["captions", "run", "--all", "--account", "nobody"] })
        {
            var errors = new StringWriter();
            Assert.Equal(2, await AdminCommands.RunAsync(app.Services, args, new StringWriter(), errors));
            Assert.Contains("error:", errors.ToString());
        }
    }

    private static async Task WaitForJobsAsync(ImagebinApp app)
    {
        await WaitUntilAsync(async () =>
        {
            await using var db = await app.Services.GetRequiredService<IDbContextFactory<ImagebinDb>>().CreateDbContextAsync();
            return !await db.Jobs.AnyAsync(j => j.State == JobState.Queued || j.State == JobState.Running);
        });
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(50);
        }
    }

    /// <summary>A captioner the test drives: it can hold its first call, or fail a number of calls.</summary>
    private sealed class ScriptedCaptioner : ICaptioner
    {
        private int _calls;

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource? Hold { get; init; }

        public int FailFirst { get; set; }

        public int Calls => _calls;

        public string Name => "scripted";

        public string Model => "test";

        public async Task<CaptionResult> CaptionAsync(CaptionInput input, CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref _calls);
            Started.TrySetResult();
            if (Hold is not null)
            {
                await Hold.Task.WaitAsync(cancellationToken);
            }

            if (call <= FailFirst)
            {
                throw new CaptionException("model unavailable (scripted)");
            }

            return new CaptionResult("A scripted caption.", ["scripted"]);
        }
    }
}
