using System.ClientModel;
using System.ClientModel.Primitives;
using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace Imagebin.Features.Captions;

public static class CaptionersSetup
{
    /// <summary>The named <see cref="HttpClient"/> the vision clients use: no redirects, no client-side timeout.</summary>
    public const string HttpClientName = "captions-vision";

    /// <summary>
    /// Registers the <see cref="ICaptioner"/> picked by <see cref="CaptionsOptions.Provider"/>: the vision captioner for
    /// <c>OpenAI</c> or <c>Ollama</c>, otherwise <typeparamref name="TOffline"/> (the built-in offline captioner).
    /// Throws <see cref="OptionsValidationException"/> at start-up when the options are unusable.
    /// </summary>
    public static IServiceCollection AddCaptioners<TOffline>(this IServiceCollection services, CaptionsOptions options)
        where TOffline : class, ICaptioner
    {
        if (!services.AddVisionCaptioner(options))
        {
            services.AddSingleton<ICaptioner, TOffline>();
        }

        return services;
    }

    /// <summary>
    /// For <c>Captions:Provider</c> <c>OpenAI</c> or <c>Ollama</c>, registers a singleton <see cref="VisionCaptioner"/> as
    /// <see cref="ICaptioner"/> (and its HTTP client) and returns true; for <c>Offline</c> registers nothing and returns
    /// false. Throws <see cref="OptionsValidationException"/> naming the key when the options are unusable.
    /// </summary>
    public static bool AddVisionCaptioner(this IServiceCollection services, CaptionsOptions options)
    {
        var problems = Validate(options);
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(CaptionsOptions.Section, typeof(CaptionsOptions), problems);
        }

        if (options.Provider == CaptionProvider.Offline)
        {
            return false;
        }

        services.AddHttpClient(HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                // The clients hold one HttpClient for the process's life; fresh connections pick up DNS changes.
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        services.AddSingleton<ICaptioner>(provider =>
        {
            var httpClient = provider.GetRequiredService<IHttpClientFactory>().CreateClient(HttpClientName);
            return new VisionCaptioner(CreateChatClient(options, httpClient), options, options.Provider == CaptionProvider.OpenAI ? "openai" : "ollama");
        });
        return true;
    }

    /// <summary>What is wrong with the options, each naming its <c>Captions:*</c> key; empty when they are usable.</summary>
    public static IReadOnlyList<string> Validate(CaptionsOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        var problems = results.Select(r => $"Captions:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}").ToList();
        if (!Enum.IsDefined(options.Provider))
        {
            problems.Add($"Captions:Provider must be Offline, OpenAI or Ollama, not {options.Provider}.");
        }

        if (options.Provider is CaptionProvider.OpenAI or CaptionProvider.Ollama)
        {
            if (string.IsNullOrWhiteSpace(options.Endpoint))
            {
                problems.Add($"Captions:Endpoint is required when Captions:Provider is {options.Provider}.");
            }
            else if (!Uri.TryCreate(options.Endpoint, UriKind.Absolute, out var endpoint)
                     || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                problems.Add("Captions:Endpoint must be an absolute http:// or https:// URL.");
            }

            if (string.IsNullOrWhiteSpace(options.Model))
            {
                problems.Add($"Captions:Model is required when Captions:Provider is {options.Provider}.");
            }
        }

        return problems;
    }

    /// <summary>
    /// Microsoft.Extensions.AI rewrites a JSON schema for OpenAI's strict mode, turning <c>maxLength</c> and <c>maxItems</c>
    /// into descriptions; local servers (llama.cpp, vLLM) enforce them in their grammar, so the schema goes out as written.
    /// </summary>
    private static void SendSchemaAsWritten(ChatOptions options)
    {
        if (options.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } format && options.RawRepresentationFactory is null)
        {
            options.RawRepresentationFactory = _ => new ChatCompletionOptions
            {
                ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(
                    format.SchemaName ?? "json_schema", BinaryData.FromString(schema.GetRawText()), format.SchemaDescription),
            };
        }
    }

    /// <summary>
    /// The provider's <see cref="IChatClient"/> over <paramref name="httpClient"/>. The OpenAI SDK's retries are off
    /// (one attempt per job run; the job queue retries with backoff) and its network timeout is left to the captioner's.
    /// </summary>
    internal static IChatClient CreateChatClient(CaptionsOptions options, HttpClient httpClient)
    {
        var endpoint = options.Endpoint!.TrimEnd('/');
        if (options.Provider == CaptionProvider.Ollama)
        {
            httpClient.BaseAddress = new Uri(endpoint + "/");
            // Ollama itself takes no key; a proxy in front of it (or a hosted Ollama) may want a bearer token.
            if (!string.IsNullOrEmpty(options.ApiKey))
            {
                httpClient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
            }

            return new OllamaChatClient(httpClient, options.Model!);
        }

        var clientOptions = new OpenAIClientOptions
        {
            Endpoint = new Uri(endpoint),
            Transport = new HttpClientPipelineTransport(httpClient),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds + 5),
        };
        // Local servers (llama.cpp, vLLM, LM Studio) need no key; the SDK insists on one, which they ignore.
        var credential = new ApiKeyCredential(string.IsNullOrEmpty(options.ApiKey) ? "unused" : options.ApiKey);
        return new ChatClient(options.Model!, credential, clientOptions).AsIChatClient()
            .AsBuilder()
            .ConfigureOptions(SendSchemaAsWritten)
            .Build();
    }
}
