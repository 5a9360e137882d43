using Imagebin.Features.Moderation;

namespace Imagebin.Features.Captions;

/// <summary>
/// Writes a caption and tags for one image (DESIGN.md §9). Two implementations, picked by <c>Captions:Provider</c>: the
/// built-in offline captioner (the default, no network) and a vision model behind <c>IChatClient</c>
/// (OpenAI-compatible endpoints or Ollama). The caption job calls it after the scan passed, unless the item opted out.
/// </summary>
public interface ICaptioner
{
    /// <summary>Recorded with the result: <c>offline</c>, <c>openai</c> or <c>ollama</c>.</summary>
    string Name { get; }

    /// <summary>The model (or the offline captioner's version), recorded with the result.</summary>
    string Model { get; }

    /// <summary>
    /// Captions the image. Throws <see cref="CaptionException"/> (or an <see cref="HttpRequestException"/>, a timeout) when
    /// this attempt failed; the job queue retries it and, after its last attempt, marks the item <c>failed</c>.
    /// </summary>
    Task<CaptionResult> CaptionAsync(CaptionInput input, CancellationToken cancellationToken);
}

/// <summary>
/// What a captioner gets: the stored (already stripped) image as a local file, what ingest knew about it, and the
/// classifier's scores from the scan when it ran (null when the classifier is off).
/// </summary>
public sealed record CaptionInput(string ImagePath, string ContentType, int Width, int Height, int Frames, NsfwScores? Scores);

/// <summary>A caption (one sentence, at most <see cref="CaptionLimits.MaxCaptionLength"/> characters) and up to
/// <see cref="CaptionLimits.MaxTags"/> lower-case tags.</summary>
public sealed record CaptionResult(string Caption, IReadOnlyList<string> Tags);

public sealed class CaptionException(string message, Exception? inner = null) : Exception(message, inner);

public static class CaptionLimits
{
    public const int MaxCaptionLength = 200;
    public const int MaxTags = 10;
    public const int MaxTagLength = 32;

    /// <summary>
    /// Cleans what a model answered: the caption trimmed, one line, cut at a word boundary to the limit (with an
    /// ellipsis); tags lower-cased, trimmed, without commas or control characters, de-duplicated, at most
    /// <see cref="MaxTags"/>. Throws <see cref="CaptionException"/> when nothing usable is left.
    /// </summary>
    public static CaptionResult Normalize(string? caption, IEnumerable<string?>? tags)
    {
        var text = string.Join(' ', (caption ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        text = new string(text.Where(c => !char.IsControl(c)).ToArray());
        if (text.Length > MaxCaptionLength)
        {
            var cut = text.LastIndexOf(' ', MaxCaptionLength - 1);
            text = (cut > MaxCaptionLength / 2 ? text[..cut] : text[..(MaxCaptionLength - 1)]).TrimEnd(',', ';', ':', ' ') + "…";
        }

        var cleaned = (tags ?? [])
            .Select(t => new string((t ?? "").Trim().ToLowerInvariant().Where(c => !char.IsControl(c) && c != ',').ToArray()).Trim())
            .Where(t => t.Length is > 0 and <= MaxTagLength)
            .Distinct()
            .Take(MaxTags)
            .ToList();
        if (text.Length == 0)
        {
            throw new CaptionException("The captioner returned an empty caption.");
        }

        return new CaptionResult(text, cleaned);
    }
}
