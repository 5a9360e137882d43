using System.ClientModel;
using System.Text.Json;
using System.Threading.RateLimiting;
using Microsoft.Extensions.AI;
using NetVips;

namespace Imagebin.Features.Captions;

/// <summary>
/// Captions with a vision model behind <see cref="IChatClient"/> (DESIGN.md §9): an OpenAI-compatible endpoint or Ollama.
/// It sends a JPEG of at most <see cref="CaptionsOptions.ImageSide"/> pixels with no metadata and asks for structured
/// output (<see cref="ResponseSchema"/>). One attempt per call: a timeout, an HTTP error or an unusable answer throws
/// <see cref="CaptionException"/> and the job queue retries with its backoff (the clients' own retries are off).
/// Calls wait for a free slot (<see cref="CaptionsOptions.MaxConcurrency"/>) and a rate permit
/// (<see cref="CaptionsOptions.RequestsPerMinute"/>), both per node, for at most <see cref="CaptionsOptions.TimeoutSeconds"/>.
/// </summary>
public sealed class VisionCaptioner : ICaptioner, IDisposable
{
    internal const string SystemPrompt =
        "You write captions and tags for an image host's search and accessibility. Describe only what is visible, " +
        "neutrally and factually. Never identify people: do not name anyone, famous or not, and do not guess anyone's " +
        "identity, age, ethnicity, religion, health, sexual orientation, political views or other sensitive attributes; " +
        "say \"a person\" or \"people\" instead. Do not transcribe text unless it is large and prominent, and never " +
        "reproduce personal data such as names, addresses, numbers or licence plates. Answer only with the JSON object " +
        "{\"caption\": string, \"tags\": [string]}, nothing before or after it.";

    internal const string UserPrompt =
        "Describe this image in one neutral sentence of at most 200 characters (\"caption\"), and give up to 10 " +
        "lower-case tags of one or two words each (\"tags\"). Remember: never identify people. Answer only the JSON.";

    /// <summary>The structured output asked for: <c>{caption: string ≤ 200, tags: string[] ≤ 10}</c>.</summary>
    internal static readonly JsonElement ResponseSchema = JsonDocument.Parse($$"""
        {
          "type": "object",
          "properties": {
            "caption": { "type": "string", "maxLength": {{CaptionLimits.MaxCaptionLength}} },
            "tags": { "type": "array", "items": { "type": "string" }, "maxItems": {{CaptionLimits.MaxTags}} }
          },
          "required": ["caption", "tags"],
          "additionalProperties": false
        }
        """).RootElement.Clone();

    private static readonly ChatResponseFormat ResponseFormat =
        ChatResponseFormat.ForJsonSchema(ResponseSchema, "image_caption", "A caption and tags for one image.");

    private const int JpegQuality = 85;

    private readonly IChatClient _chatClient;
    private readonly CaptionsOptions _options;
    private readonly TimeSpan _timeout;
    private readonly SemaphoreSlim _concurrency;
    private readonly RateLimiter? _rateLimiter;

    /// <param name="chatClient">The model's client; owned by the caller (the container).</param>
    /// <param name="options">Model, time limit, concurrency, rate and image size.</param>
    /// <param name="name">Recorded with the result: <c>openai</c> or <c>ollama</c>.</param>
    public VisionCaptioner(IChatClient chatClient, CaptionsOptions options, string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _chatClient = chatClient;
        _options = options;
        Name = name;
        Model = options.Model ?? "";
        _timeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
        _concurrency = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        _rateLimiter = options.RequestsPerMinute > 0
            ? new SlidingWindowRateLimiter(new SlidingWindowRateLimiterOptions
            {
                PermitLimit = options.RequestsPerMinute,
                Window = TimeSpan.FromMinutes(1),
                SegmentsPerWindow = 6,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                QueueLimit = 100_000,
                AutoReplenishment = true,
            })
            : null;
    }

    public string Name { get; }

    public string Model { get; }

    public async Task<CaptionResult> CaptionAsync(CaptionInput input, CancellationToken cancellationToken)
    {
        var jpeg = PrepareImage(input.ImagePath, _options.ImageSide);
        ChatMessage[] messages =
        [
            new(ChatRole.System, SystemPrompt),
            new(ChatRole.User, [new TextContent(UserPrompt), new DataContent(jpeg, "image/jpeg")]),
        ];
        var chatOptions = new ChatOptions { ModelId = _options.Model, Temperature = 0, ResponseFormat = ResponseFormat };

        using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            waiting.CancelAfter(_timeout);
            try
            {
                await _concurrency.WaitAsync(waiting.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new CaptionException($"Timed out after {_options.TimeoutSeconds} s waiting for a free slot (Captions:MaxConcurrency).");
            }

            try
            {
                await AcquireRatePermitAsync(waiting.Token, cancellationToken);
            }
            catch
            {
                _concurrency.Release();
                throw;
            }
        }

        try
        {
            var text = await AskAsync(messages, chatOptions, cancellationToken);
            return ParseAnswer(text);
        }
        finally
        {
            _concurrency.Release();
        }
    }

    public void Dispose()
    {
        _rateLimiter?.Dispose();
        _concurrency.Dispose();
    }

    private async Task AcquireRatePermitAsync(CancellationToken waiting, CancellationToken caller)
    {
        if (_rateLimiter is null)
        {
            return;
        }

        RateLimitLease lease;
        try
        {
            lease = await _rateLimiter.AcquireAsync(1, waiting);
        }
        catch (OperationCanceledException) when (!caller.IsCancellationRequested)
        {
            throw new CaptionException($"Timed out after {_options.TimeoutSeconds} s waiting for a rate permit (Captions:RequestsPerMinute).");
        }

        using (lease)
        {
            if (!lease.IsAcquired)
            {
                throw new CaptionException("Too many captions are waiting for a rate permit (Captions:RequestsPerMinute).");
            }
        }
    }

    /// <summary>One request, its failures told apart by kind and status only: no endpoint body, header or key in the message.</summary>
    private async Task<string> AskAsync(ChatMessage[] messages, ChatOptions chatOptions, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            var response = await _chatClient.GetResponseAsync(messages, chatOptions, timeout.Token);
            return response.Text;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CaptionException($"The {Name} vision endpoint timed out after {_options.TimeoutSeconds} s.");
        }
        catch (ClientResultException exception) when (exception.Status != 0)
        {
            throw new CaptionException($"The {Name} vision endpoint answered HTTP {exception.Status}.");
        }
        catch (ClientResultException exception)
        {
            throw new CaptionException($"The {Name} vision endpoint could not be reached: {exception.InnerException?.Message ?? "no response"}.");
        }
        catch (HttpRequestException exception) when (exception.StatusCode is not null)
        {
            throw new CaptionException($"The {Name} vision endpoint answered HTTP {(int)exception.StatusCode}.", exception);
        }
        catch (HttpRequestException exception)
        {
            throw new CaptionException($"The {Name} vision endpoint could not be reached: {exception.Message}", exception);
        }
        catch (InvalidOperationException exception)
        {
            throw new CaptionException($"The {Name} vision endpoint's answer could not be read.", exception);
        }
    }

    /// <summary>
    /// The JPEG a model sees: the first frame, upright, fitted inside <paramref name="side"/>² (never enlarged), sRGB,
    /// transparency flattened on white, quality 85, with no metadata at all (EXIF, XMP, IPTC, ICC, comments).
    /// </summary>
    internal static byte[] PrepareImage(string path, int side)
    {
        var current = Image.Thumbnail(path, side, height: side, size: Enums.Size.Down);
        try
        {
            if (current.Interpretation != Enums.Interpretation.Srgb)
            {
                Replace(ref current, current.Colourspace(Enums.Interpretation.Srgb));
            }

            if (current.HasAlpha())
            {
                Replace(ref current, current.Flatten(background: [255, 255, 255]));
            }

            if (current.Bands > 3)
            {
                Replace(ref current, current.ExtractBand(0, 3));
            }

            if (current.Format != Enums.BandFormat.Uchar)
            {
                Replace(ref current, current.Cast(Enums.BandFormat.Uchar));
            }

            return current.JpegsaveBuffer(q: JpegQuality, keep: Enums.ForeignKeep.None);
        }
        catch (VipsException exception)
        {
            throw new CaptionException("The image could not be prepared for the vision model.", exception);
        }
        finally
        {
            current.Dispose();
        }
    }

    private static void Replace(ref Image current, Image next)
    {
        current.Dispose();
        current = next;
    }

    /// <summary>
    /// Reads the model's answer: one JSON object, possibly inside a code fence or between words some models add anyway.
    /// A caption over the limit is cut cleanly by <see cref="CaptionLimits.Normalize"/>, not refused.
    /// </summary>
    internal static CaptionResult ParseAnswer(string? answer)
    {
        var start = answer?.IndexOf('{') ?? -1;
        var end = answer?.LastIndexOf('}') ?? -1;
        if (start < 0 || end < start)
        {
            throw new CaptionException("The vision model's answer holds no JSON object.");
        }

        try
        {
            using var document = JsonDocument.Parse(answer.AsMemory(start, end - start + 1));
            var root = document.RootElement;
            var caption = root.TryGetProperty("caption", out var captionElement) && captionElement.ValueKind == JsonValueKind.String
                ? captionElement.GetString()
                : throw new CaptionException("The vision model's answer has no caption string.");
            var tags = root.TryGetProperty("tags", out var tagsElement) && tagsElement.ValueKind == JsonValueKind.Array
                ? tagsElement.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => t.GetString()).ToList()
                : [];
            return CaptionLimits.Normalize(caption, tags);
        }
        catch (JsonException exception)
        {
            throw new CaptionException("The vision model's answer is not valid JSON.", exception);
        }
    }
}
