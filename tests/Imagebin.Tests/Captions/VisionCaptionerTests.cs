using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Imagebin.Features.Captions;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using NetVips;

namespace Imagebin.Tests.Captions;

/// <summary>
/// The vision captioner through its real registration (<see cref="CaptionersSetup.AddVisionCaptioner"/>, the OpenAI SDK
/// or our Ollama client, HTTP) against a fake endpoint on 127.0.0.1, for both wire formats.
/// </summary>
public sealed class VisionCaptionerTests : IAsyncLifetime
{
    private const string ApiKey = "sk-test-secret-key";
    private const string ModelName = "test-vision-model";

    private readonly string _directory = Directory.CreateTempSubdirectory("imagebin-vision-").FullName;
    private FakeVisionServer _server = null!;

    public static TheoryData<CaptionProvider> Providers => new() { CaptionProvider.OpenAI, CaptionProvider.Ollama };

    public async ValueTask InitializeAsync() => _server = await FakeVisionServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_Success_SendsStrippedJpegSchemaAndModel_AndReturnsTheAnswer(CaptionProvider provider)
    {
        using var services = Build(provider);
        var captioner = services.GetRequiredService<ICaptioner>();

        var result = await captioner.CaptionAsync(Input(TestImages.JpegWithGps(1200, 800)), CancellationToken.None);

        Assert.Equal("A red square on a white background.", result.Caption);
        Assert.Equal(["red", "square"], result.Tags);
        Assert.Equal(provider == CaptionProvider.OpenAI ? "openai" : "ollama", captioner.Name);
        Assert.Equal(ModelName, captioner.Model);

        var request = Assert.Single(_server.Requests);
        Assert.Equal(provider == CaptionProvider.OpenAI ? "/v1/chat/completions" : "/api/chat", request.Path);
        Assert.Equal(ModelName, (string?)request.Body["model"]);

        var jpeg = SentImage(provider, request.Body);
        Assert.Equal([0xFF, 0xD8, 0xFF], jpeg[..3]);
        using (var sent = Image.NewFromBuffer(jpeg))
        {
            Assert.Equal("jpegload_buffer", (string)sent.Get("vips-loader"));
            // The EXIF orientation 6 was applied: 1200×800 stored, 800×1200 upright, fitted to 341×512.
            Assert.Equal(512, sent.Height);
            Assert.InRange(sent.Width, 340, 342);
            Assert.Equal(3, sent.Bands);
            var fields = sent.GetFields();
            Assert.DoesNotContain(fields, f => f.StartsWith("exif-", StringComparison.Ordinal));
            Assert.DoesNotContain(fields, f => f.StartsWith("xmp-", StringComparison.Ordinal));
            Assert.DoesNotContain(fields, f => f.StartsWith("iptc-", StringComparison.Ordinal));
            Assert.DoesNotContain("jpeg-comment", fields);
        }

        var bytesAsText = Encoding.Latin1.GetString(jpeg);
        Assert.DoesNotContain(TestImages.CameraMake, bytesAsText);
        Assert.DoesNotContain("GPS", bytesAsText);
        Assert.DoesNotContain("SecretComment", bytesAsText);

        var schema = provider == CaptionProvider.OpenAI
            ? AssertOpenAiJsonSchema(request.Body)
            : request.Body["format"]!;
        Assert.Equal("string", (string?)schema["properties"]!["caption"]!["type"]);
        Assert.Equal(200, (int?)schema["properties"]!["caption"]!["maxLength"]);
        Assert.Equal("array", (string?)schema["properties"]!["tags"]!["type"]);
        Assert.Equal(10, (int?)schema["properties"]!["tags"]!["maxItems"]);

        Assert.Equal($"Bearer {ApiKey}", request.Authorization);
        if (provider == CaptionProvider.OpenAI)
        {
            Assert.Equal(0, (double?)request.Body["temperature"]);
        }
        else
        {
            Assert.False((bool?)request.Body["stream"]);
            Assert.Equal(0, (double?)request.Body["options"]!["temperature"]);
        }
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_Prompt_ForbidsIdentifyingPeople(CaptionProvider provider)
    {
        using var services = Build(provider);

        await services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None);

        var request = Assert.Single(_server.Requests);
        var system = PromptText(provider, request.Body, "system");
        var user = PromptText(provider, request.Body, "user");
        Assert.Contains("Never identify people", system);
        Assert.Contains("\"a person\"", system);
        Assert.Contains("ethnicity", system);
        Assert.Contains("never identify people", user);
        Assert.Contains("at most 200 characters", user);
        Assert.Contains("up to 10", user);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_ServerError_ThrowsCaptionExceptionWithStatusAndNoKey(CaptionProvider provider)
    {
        _server.StatusCode = 500;
        using var services = Build(provider);

        var exception = await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));

        Assert.Contains("HTTP 500", exception.Message);
        Assert.DoesNotContain(ApiKey, exception.ToString());
        // One attempt: the job queue retries, not the client.
        Assert.Single(_server.Requests);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_TooManyRequests_ThrowsCaptionExceptionAfterOneAttempt(CaptionProvider provider)
    {
        _server.StatusCode = 429;
        using var services = Build(provider);

        var exception = await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));

        Assert.Contains("HTTP 429", exception.Message);
        Assert.Single(_server.Requests);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_ConnectionRefused_ThrowsCaptionException(CaptionProvider provider)
    {
        using var services = Build(provider, endpoint: $"http://127.0.0.1:{ClosedPort()}");

        var exception = await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));

        Assert.Contains("could not be reached", exception.Message);
        Assert.DoesNotContain(ApiKey, exception.ToString());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_ServerSlowerThanTimeout_ThrowsTimedOutQuickly(CaptionProvider provider)
    {
        _server.Delay = TimeSpan.FromSeconds(10);
        using var services = Build(provider, configure: o => o.TimeoutSeconds = 1);
        var stopwatch = Stopwatch.StartNew();

        var exception = await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));

        Assert.Contains("timed out", exception.Message);
        Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_CallerCancels_ThrowsOperationCanceled(CaptionProvider provider)
    {
        _server.Delay = TimeSpan.FromSeconds(10);
        using var services = Build(provider);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), cancellation.Token));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_AnswerNotJson_ThrowsCaptionException(CaptionProvider provider)
    {
        _server.Answer = "not json";
        using var services = Build(provider);

        await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_BrokenJsonObject_ThrowsCaptionException(CaptionProvider provider)
    {
        _server.Answer = """{"caption": "A cat", "tags": [""";
        using var services = Build(provider);

        await Assert.ThrowsAsync<CaptionException>(
            () => services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_OverlongCaptionAndTooManyUpperCaseTags_AreNormalized(CaptionProvider provider)
    {
        var longCaption = string.Join(' ', Enumerable.Repeat("A very long caption about a landscape", 11))[..400];
        var tags = Enumerable.Range(1, 15).Select(i => $"\"Tag {i}\"");
        _server.Answer = $$"""{"caption": "{{longCaption}}", "tags": [{{string.Join(", ", tags)}}]}""";
        using var services = Build(provider);

        var result = await services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None);

        Assert.InRange(result.Caption.Length, 150, 200);
        Assert.EndsWith("…", result.Caption);
        Assert.StartsWith("A very long caption about a landscape A very", result.Caption);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"tag {i}"), result.Tags);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_CodeFencedJsonWithChatter_IsParsed(CaptionProvider provider)
    {
        _server.Answer = "Sure! Here it is:\n```json\n{\"caption\": \"A dog on grass.\", \"tags\": [\"Dog\", \"GRASS\"]}\n```\nHope that helps.";
        using var services = Build(provider);

        var result = await services.GetRequiredService<ICaptioner>().CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None);

        Assert.Equal("A dog on grass.", result.Caption);
        Assert.Equal(["dog", "grass"], result.Tags);
    }

    [Theory]
    [InlineData(CaptionProvider.OpenAI, 1)]
    [InlineData(CaptionProvider.Ollama, 1)]
    [InlineData(CaptionProvider.OpenAI, 2)]
    [InlineData(CaptionProvider.Ollama, 2)]
    public async Task Caption_ParallelCalls_NeverExceedMaxConcurrencyAtTheServer(CaptionProvider provider, int maxConcurrency)
    {
        _server.Delay = TimeSpan.FromMilliseconds(400);
        using var services = Build(provider, configure: o => o.MaxConcurrency = maxConcurrency);
        var captioner = services.GetRequiredService<ICaptioner>();

        await Task.WhenAll(
            captioner.CaptionAsync(Input(TestImages.Jpeg(seed: 1)), CancellationToken.None),
            captioner.CaptionAsync(Input(TestImages.Jpeg(seed: 2)), CancellationToken.None));

        Assert.Equal(2, _server.Requests.Count);
        Assert.Equal(maxConcurrency, _server.MaxInFlight);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Caption_OverRequestsPerMinute_WaitsThenTimesOut(CaptionProvider provider)
    {
        using var services = Build(provider, configure: o => (o.RequestsPerMinute, o.TimeoutSeconds) = (1, 1));
        var captioner = services.GetRequiredService<ICaptioner>();
        await captioner.CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None);

        var exception = await Assert.ThrowsAsync<CaptionException>(
            () => captioner.CaptionAsync(Input(TestImages.Jpeg()), CancellationToken.None));

        Assert.Contains("rate permit", exception.Message);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public void AddVisionCaptioner_Offline_RegistersNothing()
    {
        var services = new ServiceCollection();

        Assert.False(services.AddVisionCaptioner(new CaptionsOptions()));
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(ICaptioner));
    }

    [Theory]
    [InlineData(CaptionProvider.OpenAI, null, ModelName, "Captions:Endpoint is required")]
    [InlineData(CaptionProvider.Ollama, "http://127.0.0.1:11434", null, "Captions:Model is required")]
    [InlineData(CaptionProvider.OpenAI, "ftp://127.0.0.1/v1", ModelName, "Captions:Endpoint must be an absolute http")]
    [InlineData(CaptionProvider.Ollama, "127.0.0.1:11434", ModelName, "Captions:Endpoint must be an absolute http")]
    public void AddVisionCaptioner_UnusableOptions_FailsNamingTheKey(CaptionProvider provider, string? endpoint, string? model, string message)
    {
        var options = new CaptionsOptions { Provider = provider, Endpoint = endpoint, Model = model, ApiKey = ApiKey };

        var exception = Assert.Throws<OptionsValidationException>(() => new ServiceCollection().AddVisionCaptioner(options));

        Assert.Contains(message, exception.Message);
        Assert.DoesNotContain(ApiKey, exception.Message);
    }

    private ServiceProvider Build(CaptionProvider provider, string? endpoint = null, Action<CaptionsOptions>? configure = null)
    {
        var options = new CaptionsOptions
        {
            Provider = provider,
            Endpoint = endpoint ?? (provider == CaptionProvider.OpenAI ? $"{_server.BaseUrl}/v1" : _server.BaseUrl),
            Model = ModelName,
            ApiKey = ApiKey,
        };
        configure?.Invoke(options);
        var services = new ServiceCollection();
        Assert.True(services.AddVisionCaptioner(options));
        return services.BuildServiceProvider();
    }

    private CaptionInput Input(byte[] bytes)
    {
        var path = Path.Combine(_directory, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, bytes);
        using var image = Image.NewFromBuffer(bytes);
        return new CaptionInput(path, "image/jpeg", image.Width, image.Height, 1, null);
    }

    private static JsonNode AssertOpenAiJsonSchema(JsonNode body)
    {
        var format = body["response_format"]!;
        Assert.Equal("json_schema", (string?)format["type"]);
        Assert.Equal("image_caption", (string?)format["json_schema"]!["name"]);
        return format["json_schema"]!["schema"]!;
    }

    /// <summary>The one image in the user message: a data URL (OpenAI) or base64 in <c>images</c> (Ollama).</summary>
    private static byte[] SentImage(CaptionProvider provider, JsonNode body)
    {
        var user = body["messages"]!.AsArray().Single(m => (string?)m!["role"] == "user")!;
        if (provider == CaptionProvider.Ollama)
        {
            return Convert.FromBase64String((string)Assert.Single(user["images"]!.AsArray())!);
        }

        var part = Assert.Single(user["content"]!.AsArray(), p => (string?)p!["type"] == "image_url")!;
        var url = (string)part["image_url"]!["url"]!;
        const string prefix = "data:image/jpeg;base64,";
        Assert.StartsWith(prefix, url);
        return Convert.FromBase64String(url[prefix.Length..]);
    }

    private static string PromptText(CaptionProvider provider, JsonNode body, string role)
    {
        var message = body["messages"]!.AsArray().Single(m => (string?)m!["role"] == role)!;
        var content = message["content"]!;
        if (provider == CaptionProvider.Ollama || content.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            return (string)content!;
        }

        return string.Concat(content.AsArray().Where(p => (string?)p!["type"] == "text").Select(p => (string?)p!["text"]));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
