using System.Globalization;
using Imagebin.Infrastructure;

namespace Imagebin.Features.Items;

/// <summary>The owner-editable fields of an item, as given on upload (headers or form fields) or in a PATCH.</summary>
public sealed class ItemFields
{
    public Optional<string?> Title { get; set; }
    public Optional<string?> Description { get; set; }
    public Optional<string[]> Tags { get; set; }
    public Optional<string?> Category { get; set; }
    public Optional<bool> Private { get; set; }
    public Optional<long?> DlLimit { get; set; }
    public Optional<bool> AiOptOut { get; set; }
    public Optional<long?> ExpiresIn { get; set; }
}

/// <summary>A value that may be absent, which a PATCH must tell apart from an explicit null.</summary>
public readonly record struct Optional<T>(bool HasValue, T Value)
{
    public static implicit operator Optional<T>(T value) => new(true, value);

    public T Or(T fallback) => HasValue ? Value : fallback;
}

/// <summary>Parses and validates field values from their text form; every failure is an <c>invalid_request</c> naming the field.</summary>
public sealed class ItemFieldParser(LimitsOptions limits)
{
    public LimitsOptions Limits => limits;

    public const int MaxCategoryLength = 64;
    public const long MaxDlLimit = 1_000_000_000;
    public const long MinExpiresIn = 60;
    public const long MaxExpiresIn = 10L * 366 * 24 * 3600;

    public static readonly string[] UploadFieldNames = ["title", "description", "tags", "category", "private", "dl_limit", "ai_optout", "expires_in"];

    /// <summary>Applies one field given as text (an <c>x-…</c> header or a form field) to <paramref name="fields"/>.</summary>
    public void Apply(ItemFields fields, string name, string value)
    {
        switch (name)
        {
            case "title":
                fields.Title = Text(name, value, limits.MaxTitleLength, multiline: false);
                break;
            case "description":
                fields.Description = Text(name, value, limits.MaxDescriptionLength, multiline: true);
                break;
            case "tags":
                fields.Tags = Tags(value.Split(','));
                break;
            case "category":
                fields.Category = Text(name, value, MaxCategoryLength, multiline: false);
                break;
            case "private":
                fields.Private = Boolean(name, value);
                break;
            case "ai_optout":
                fields.AiOptOut = Boolean(name, value);
                break;
            case "dl_limit":
                fields.DlLimit = Integer(name, value, 1, MaxDlLimit);
                break;
            case "expires_in":
                fields.ExpiresIn = Integer(name, value, MinExpiresIn, MaxExpiresIn);
                break;
            default:
                throw Invalid($"Unknown field '{name}'. Known fields: {string.Join(", ", UploadFieldNames)}.");
        }
    }

    public string? Text(string name, string? value, int maxLength, bool multiline)
    {
        if (value is null)
        {
            return null;
        }

        value = value.Trim();
        if (value.Length > maxLength)
        {
            throw Invalid($"'{name}' is {value.Length} characters long; the limit is {maxLength}.");
        }

        if (value.Any(c => char.IsControl(c) && !(multiline && c is '\n' or '\r' or '\t')))
        {
            throw Invalid($"'{name}' contains control characters.");
        }

        return value.Length == 0 ? null : value;
    }

    public string[] Tags(IEnumerable<string> raw)
    {
        var tags = new List<string>();
        foreach (var candidate in raw)
        {
            var tag = Text("tags", candidate, limits.MaxTagLength, multiline: false);
            if (tag is null)
            {
                continue;
            }

            if (tag.Contains(','))
            {
                throw Invalid("A tag cannot contain a comma.");
            }

            if (!tags.Contains(tag, StringComparer.OrdinalIgnoreCase))
            {
                tags.Add(tag);
            }
        }

        return tags.Count > limits.MaxTags ? throw Invalid($"{tags.Count} tags; the limit is {limits.MaxTags}.") : [.. tags];
    }

    public static bool Boolean(string name, string value) => value.Trim().ToLowerInvariant() switch
    {
        "true" or "1" => true,
        "false" or "0" => false,
        _ => throw Invalid($"'{name}' must be true, false, 1 or 0, not '{Shorten(value)}'."),
    };

    public static long Integer(string name, string value, long min, long max) =>
        long.TryParse(value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw Invalid($"'{name}' must be a whole number from {min} to {max}, not '{Shorten(value)}'.");

    public static long Integer(string name, long value, long min, long max) =>
        value >= min && value <= max ? value : throw Invalid($"'{name}' must be from {min} to {max}.");

    private static ApiException Invalid(string detail) => new(ErrorCodes.InvalidRequest, detail);

    internal static string Shorten(string value) => value.Length > 40 ? value[..40] + "…" : value;
}
