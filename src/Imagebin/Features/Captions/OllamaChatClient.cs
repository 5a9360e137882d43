using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;

namespace Imagebin.Features.Captions;

/// <summary>
/// An <see cref="IChatClient"/> for Ollama's native <c>POST /api/chat</c>: text and images (base64 in <c>images</c>),
/// a JSON schema in <c>format</c>, the temperature in <c>options</c>, one non-streamed answer. Only what the captioner
/// uses; streaming is not supported.
/// </summary>
public sealed class OllamaChatClient : IChatClient
{
    private readonly HttpClient _httpClient;
    private readonly string _model;
    private readonly ChatClientMetadata _metadata;

    /// <param name="httpClient">Its <see cref="HttpClient.BaseAddress"/> is the Ollama server, e.g. <c>http://127.0.0.1:11434</c>.</param>
    /// <param name="model">The model asked when <see cref="ChatOptions.ModelId"/> is not set.</param>
    public OllamaChatClient(HttpClient httpClient, string model)
    {
        ArgumentNullException.ThrowIfNull(httpClient.BaseAddress);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        _httpClient = httpClient;
        _model = model;
        _metadata = new ChatClientMetadata("ollama", httpClient.BaseAddress, model);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var body = BuildRequest(messages, options);
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/chat")
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        using var response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"Ollama answered HTTP {(int)response.StatusCode}{ErrorDetail(text)}.", null, response.StatusCode);
        }

        return ParseResponse(text);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The Ollama client answers in one response only.");

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    // The HttpClient belongs to whoever made it (the factory).
    public void Dispose()
    {
    }

    internal JsonObject BuildRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var wireMessages = new JsonArray();
        foreach (var message in messages)
        {
            var text = new StringBuilder();
            var images = new JsonArray();
            foreach (var content in message.Contents)
            {
                switch (content)
                {
                    case TextContent textContent:
                        text.Append(textContent.Text);
                        break;
                    case DataContent data when data.HasTopLevelMediaType("image"):
                        images.Add(Convert.ToBase64String(data.Data.Span));
                        break;
                    default:
                        throw new NotSupportedException($"The Ollama client sends text and images only, not {content.GetType().Name}.");
                }
            }

            var wireMessage = new JsonObject { ["role"] = message.Role.Value, ["content"] = text.ToString() };
            if (images.Count > 0)
            {
                wireMessage["images"] = images;
            }

            wireMessages.Add(wireMessage);
        }

        var body = new JsonObject
        {
            ["model"] = options?.ModelId ?? _model,
            ["messages"] = wireMessages,
            ["stream"] = false,
        };
        switch (options?.ResponseFormat)
        {
            case ChatResponseFormatJson { Schema: { } schema }:
                body["format"] = JsonNode.Parse(schema.GetRawText());
                break;
            case ChatResponseFormatJson:
                body["format"] = "json";
                break;
        }

        var modelOptions = new JsonObject();
        if (options?.Temperature is { } temperature)
        {
            modelOptions["temperature"] = temperature;
        }

        if (options?.MaxOutputTokens is { } maxTokens)
        {
            modelOptions["num_predict"] = maxTokens;
        }

        if (modelOptions.Count > 0)
        {
            body["options"] = modelOptions;
        }

        return body;
    }

    private ChatResponse ParseResponse(string text)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(text);
            root = document.RootElement.Clone();
        }
        catch (JsonException exception)
        {
            throw new InvalidOperationException("Ollama answered something that is not JSON.", exception);
        }

        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("message", out var message)
            || message.ValueKind != JsonValueKind.Object
            || !message.TryGetProperty("content", out var content)
            || content.ValueKind != JsonValueKind.String)
        {
            throw new InvalidOperationException("Ollama's answer has no message content.");
        }

        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, content.GetString()))
        {
            ModelId = root.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String ? model.GetString() : _model,
            FinishReason = root.TryGetProperty("done_reason", out var reason) && reason.GetString() == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop,
        };
        if (root.TryGetProperty("prompt_eval_count", out var input) && input.TryGetInt64(out var inputTokens)
            && root.TryGetProperty("eval_count", out var output) && output.TryGetInt64(out var outputTokens))
        {
            response.Usage = new UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = outputTokens, TotalTokenCount = inputTokens + outputTokens };
        }

        return response;
    }

    /// <summary>Ollama's <c>{"error": "…"}</c>, shortened: it names the problem (an unknown model) and holds no secret.</summary>
    private static string ErrorDetail(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.String)
            {
                var message = error.GetString()!;
                return ": " + (message.Length > 200 ? message[..200] + "…" : message);
            }
        }
        catch (JsonException)
        {
        }

        return "";
    }
}
