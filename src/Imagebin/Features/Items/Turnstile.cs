using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Items;

/// <summary>
/// Cloudflare Turnstile in place of the self-hosted proof of work for uploads without an account
/// (<c>Challenge:Turnstile:*</c>, DESIGN.md §5): off unless both keys are set.
/// </summary>
public sealed class TurnstileOptions
{
    public const string Section = "Challenge:Turnstile";

    /// <summary>The public site key the page's widget is rendered with.</summary>
    public string? SiteKey { get; set; }

    /// <summary>The secret sent to siteverify; never leaves the server.</summary>
    public string? Secret { get; set; }

    /// <summary>Cloudflare's verification endpoint; configurable for a proxy (and for tests).</summary>
    [Url]
    public string VerifyUrl { get; set; } = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

    [Range(1, 60)]
    public int TimeoutSeconds { get; set; } = 5;

    public bool Enabled => !string.IsNullOrEmpty(SiteKey) && !string.IsNullOrEmpty(Secret);
}

/// <summary>
/// Checks a Turnstile token with siteverify: the token must be valid, unused (Cloudflare answers a second use with
/// <c>timeout-or-duplicate</c>), and issued for this site's host name. An unreachable or malformed siteverify refuses.
/// </summary>
public sealed class TurnstileVerifier(HttpClient http, IOptions<TurnstileOptions> options, SiteUrls site, ILogger<TurnstileVerifier> logger)
{
    /// <summary>The header the page sends the widget's token in.</summary>
    public const string TokenHeader = "cf-turnstile-response";

    /// <summary>The longest token Cloudflare issues is 2048 characters.</summary>
    private const int MaxTokenLength = 2048;

    public bool Enabled => options.Value.Enabled;

    public string? SiteKey => options.Value.SiteKey;

    public async Task<bool> VerifyAsync(string? token, string? remoteAddress, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return false;
        }

        var settings = options.Value;
        var form = new Dictionary<string, string> { ["secret"] = settings.Secret!, ["response"] = token };
        if (remoteAddress is not null)
        {
            form["remoteip"] = remoteAddress;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
            using var response = await http.PostAsync(settings.VerifyUrl, new FormUrlEncodedContent(form), timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                logger.LogWarning("Turnstile siteverify answered {Status}", (int)response.StatusCode);
                return false;
            }

            using var answer = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(timeout.Token), cancellationToken: timeout.Token);
            var root = answer.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("success", out var success) || success.ValueKind != JsonValueKind.True)
            {
                return false;
            }

            // A token solved on another site with the same key (or a test key) is no proof about this one.
            var expectedHost = new Uri(site.PublicBase).Host;
            return !root.TryGetProperty("hostname", out var hostname) || hostname.ValueKind != JsonValueKind.String
                || string.Equals(hostname.GetString(), expectedHost, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "Turnstile siteverify could not be reached or answered nonsense");
            return false;
        }
    }
}
