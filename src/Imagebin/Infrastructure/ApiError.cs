using System.Text.Json.Serialization;

namespace Imagebin.Infrastructure;

/// <summary>The stable, machine-readable error codes of the API (DESIGN.md §5), and the one table mapping them to HTTP.</summary>
public static class ErrorCodes
{
    public const string AuthRequired = "auth_required";
    public const string Unauthorized = "unauthorized";
    public const string InvalidToken = "invalid_token";
    public const string InvalidDpopProof = "invalid_dpop_proof";
    public const string InsufficientScope = "insufficient_scope";
    public const string Forbidden = "forbidden";
    public const string AccountBanned = "account_banned";
    public const string InvalidJson = "invalid_json";
    public const string InvalidRequest = "invalid_request";
    public const string RequestTooLarge = "request_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string ImageTooLarge = "image_too_large";
    public const string InvalidImage = "invalid_image";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string BadOrigin = "bad_origin";
    public const string RateLimited = "rate_limited";
    public const string TurnstileFailed = "turnstile_failed";
    public const string NotFound = "not_found";
    public const string Gone = "gone";
    public const string DownloadLimitReached = "download_limit_reached";
    public const string ScanPending = "scan_pending";
    public const string UploadsDisabled = "uploads_disabled";
    public const string AuthorityUnavailable = "authority_unavailable";
    public const string NotImplemented = "not_implemented";
    public const string InternalError = "internal_error";

    public static int Status(string code) => code switch
    {
        AuthRequired or Unauthorized or InvalidToken or InvalidDpopProof => StatusCodes.Status401Unauthorized,
        InsufficientScope or Forbidden or AccountBanned or TurnstileFailed or BadOrigin => StatusCodes.Status403Forbidden,
        InvalidJson or InvalidRequest => StatusCodes.Status400BadRequest,
        NotFound => StatusCodes.Status404NotFound,
        MethodNotAllowed => StatusCodes.Status405MethodNotAllowed,
        Gone or DownloadLimitReached => StatusCodes.Status410Gone,
        RequestTooLarge => StatusCodes.Status413PayloadTooLarge,
        UnsupportedMediaType => StatusCodes.Status415UnsupportedMediaType,
        ImageTooLarge or InvalidImage => StatusCodes.Status422UnprocessableEntity,
        RateLimited => StatusCodes.Status429TooManyRequests,
        NotImplemented => StatusCodes.Status501NotImplemented,
        ScanPending or UploadsDisabled or AuthorityUnavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    public static string Title(string code) => code switch
    {
        AuthRequired => "Authentication required",
        Unauthorized => "Unauthorized",
        InvalidToken => "Invalid or expired token",
        InvalidDpopProof => "Invalid DPoP proof",
        InsufficientScope => "Insufficient scope",
        Forbidden => "Forbidden",
        AccountBanned => "Account banned",
        InvalidJson => "Invalid JSON",
        InvalidRequest => "Invalid request",
        RequestTooLarge => "Request too large",
        UnsupportedMediaType => "Unsupported media type",
        ImageTooLarge => "Image too large",
        InvalidImage => "Invalid image",
        MethodNotAllowed => "Method not allowed",
        BadOrigin => "Request not from this site",
        RateLimited => "Rate limited",
        TurnstileFailed => "Browser challenge required",
        NotFound => "Not found",
        Gone => "Gone",
        DownloadLimitReached => "Download limit reached",
        ScanPending => "Scan pending",
        UploadsDisabled => "Uploads disabled",
        AuthorityUnavailable => "Authorization server unavailable",
        NotImplemented => "Not implemented",
        _ => "Internal error",
    };
}

/// <summary>The problem+json body (RFC 9457) with the imagebin.ca <c>error</c> member.</summary>
public sealed record ProblemBody(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("detail")] string? Detail);

/// <summary>
/// An error answer: problem+json, the status from <see cref="ErrorCodes.Status"/>, and the headers the code calls for
/// (<c>WWW-Authenticate</c> on 401 and scope 403s, <c>Retry-After</c> where given).
/// </summary>
public sealed class ApiError(string code, string? detail = null) : IResult, IStatusCodeHttpResult
{
    public string Code { get; } = code;

    public string? Detail { get; } = detail;

    public int StatusCode => ErrorCodes.Status(Code);

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    /// <summary>The scopes (space-separated) whose absence caused an <c>insufficient_scope</c> error.</summary>
    public string? Scope { get; init; }

    public int? RetryAfterSeconds { get; init; }

    /// <summary>A <c>WWW-Authenticate</c> value in place of the one the code implies (e.g. DPoP's <c>use_dpop_nonce</c>).</summary>
    public string? WwwAuthenticate { get; init; }

    public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext);

    public async Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        var site = context.RequestServices.GetRequiredService<SiteUrls>();
        response.StatusCode = StatusCode;
        response.Headers.CacheControl = "no-store";
        if (StatusCode == StatusCodes.Status401Unauthorized)
        {
            response.Headers.WWWAuthenticate = Code == ErrorCodes.InvalidDpopProof
                ? BearerChallenge.InvalidDpopProof(site.PublicBase, context.Request.Path)
                : BearerChallenge.Unauthorized(site.PublicBase, context.Request.Path, Code == ErrorCodes.InvalidToken);
        }
        else if (Code == ErrorCodes.InsufficientScope)
        {
            response.Headers.WWWAuthenticate = BearerChallenge.InsufficientScope(site.PublicBase, context.Request.Path, Scope);
        }

        if (WwwAuthenticate is not null)
        {
            response.Headers.WWWAuthenticate = WwwAuthenticate;
        }

        if (RetryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = new ProblemBody($"{site.PublicBase}/docs/errors/{Code}", ErrorCodes.Title(Code), StatusCode, Code, Detail);
        await response.WriteAsJsonAsync(body, ImagebinJson.Default.ProblemBody, "application/problem+json", context.RequestAborted);
    }
}

/// <summary>Thrown from deep inside a request (ingest, parsing) and turned into an <see cref="ApiError"/> in one place.</summary>
public sealed class ApiException(string code, string? detail = null) : Exception(detail ?? code)
{
    public string Code { get; } = code;

    public ApiError ToResult() => new(Code, Detail);

    public string? Detail { get; } = detail;
}
