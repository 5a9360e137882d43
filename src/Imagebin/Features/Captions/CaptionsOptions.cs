using System.ComponentModel.DataAnnotations;

namespace Imagebin.Features.Captions;

/// <summary>Captioning settings (<c>Captions:*</c>, DESIGN.md §9).</summary>
public sealed class CaptionsOptions
{
    public const string Section = "Captions";

    /// <summary><c>Offline</c> (default, no network), <c>OpenAI</c> (any OpenAI-compatible endpoint) or <c>Ollama</c>.</summary>
    public CaptionProvider Provider { get; set; } = CaptionProvider.Offline;

    /// <summary>The vision endpoint's base URL, e.g. <c>http://127.0.0.1:8080/v1</c> (OpenAI-compatible) or <c>http://127.0.0.1:11434</c> (Ollama).</summary>
    public string? Endpoint { get; set; }

    public string? Model { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>One request's time limit; a timeout counts as a failed attempt.</summary>
    [Range(1, 600)]
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>Requests in flight at once to the vision endpoint, per node.</summary>
    [Range(1, 64)]
    public int MaxConcurrency { get; set; } = 2;

    /// <summary>Requests per minute to the vision endpoint, per node (0: unlimited).</summary>
    [Range(0, 100_000)]
    public int RequestsPerMinute { get; set; } = 60;

    /// <summary>The longer side of the JPEG sent to a vision model (stripped of all metadata).</summary>
    [Range(64, 2048)]
    public int ImageSide { get; set; } = 512;
}

public enum CaptionProvider
{
    Offline,
    OpenAI,
    Ollama,
}
