using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Imagebin.Tests.Captions;

/// <summary>
/// A vision endpoint on 127.0.0.1 that speaks both wire formats (<c>POST /v1/chat/completions</c> and <c>POST /api/chat</c>),
/// records what it was sent and answers what the test set: a status, a model answer, a delay.
/// </summary>
public sealed class FakeVisionServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _inFlight;
    private int _maxInFlight;

    private FakeVisionServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>What the model "says": the assistant message's content.</summary>
    public string Answer { get; set; } = """{"caption": "A red square on a white background.", "tags": ["red", "square"]}""";

    public int StatusCode { get; set; } = 200;

    public TimeSpan Delay { get; set; } = TimeSpan.Zero;

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public static async Task<FakeVisionServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeVisionServer(app);
        app.MapPost("/v1/chat/completions", context => server.HandleAsync(context, ollama: false));
        app.MapPost("/api/chat", context => server.HandleAsync(context, ollama: true));
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stopping.Token);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context, bool ollama)
    {
        var inFlight = Interlocked.Increment(ref _inFlight);
        try
        {
            int seen;
            while (inFlight > (seen = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, inFlight, seen) != seen)
            {
            }

            var body = await JsonNode.ParseAsync(context.Request.Body);
            Requests.Enqueue(new RecordedRequest(context.Request.Path, context.Request.Headers.Authorization.ToString(), body!));
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, context.RequestAborted);
            }

            context.Response.StatusCode = StatusCode;
            if (StatusCode != 200)
            {
                await context.Response.WriteAsJsonAsync(new JsonObject { ["error"] = "the fake server failed on purpose" });
                return;
            }

            var model = body!["model"]!.GetValue<string>();
            JsonObject answer = ollama
                ? new JsonObject
                {
                    ["model"] = model,
                    ["created_at"] = "2025-01-01T00:00:00Z",
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = Answer },
                    ["done"] = true,
                    ["done_reason"] = "stop",
                    ["prompt_eval_count"] = 100,
                    ["eval_count"] = 20,
                }
                : new JsonObject
                {
                    ["id"] = "chatcmpl-1",
                    ["object"] = "chat.completion",
                    ["created"] = 1735689600,
                    ["model"] = model,
                    ["choices"] = new JsonArray(new JsonObject
                    {
                        ["index"] = 0,
                        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = Answer },
                        ["finish_reason"] = "stop",
                    }),
                    ["usage"] = new JsonObject { ["prompt_tokens"] = 100, ["completion_tokens"] = 20, ["total_tokens"] = 120 },
                };
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.ToJsonString(JsonSerializerOptions.Default));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}

public sealed record RecordedRequest(string Path, string Authorization, JsonNode Body);
