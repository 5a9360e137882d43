using System.Text.RegularExpressions;

namespace Imagebin.Features.Authority;

/// <summary>Which redirect URIs a client may register, and which requested URI matches a registered one (RFC 8252, OAuth 2.1).</summary>
public static partial class RedirectUriRules
{
    private const int MaxLength = 2000;

    /// <summary>
    /// True for an https URI; a loopback http URI (<c>http://127.0.0.1</c>, <c>http://[::1]</c> or <c>http://localhost</c>,
    /// any port, RFC 8252 §7.3); or a private-use scheme with a dot in it, like <c>com.example.app:/callback</c> (RFC 8252 §7.1).
    /// Never with a fragment, user name or password, whitespace, or a scheme such as <c>javascript:</c>, <c>data:</c> or <c>file:</c>.
    /// </summary>
    public static bool IsAcceptable(string uri)
    {
        if (uri.Length is 0 or > MaxLength || uri.Any(c => c <= ' ' || c == '\u007f') || uri.Contains('#')
            || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || parsed.UserInfo.Length > 0)
        {
            return false;
        }

        return parsed.Scheme switch
        {
            "https" => parsed.Host.Length > 0,
            "http" => parsed.Host is "127.0.0.1" or "[::1]" or "localhost",
            // A private-use scheme names its app by reverse domain; dotless schemes (javascript, data, file, ftp…) are
            // either dangerous or someone else's.
            _ => parsed.Scheme.Contains('.'),
        };
    }

    /// <summary>
    /// Whether a requested redirect URI matches a registered one: the same string, except that a loopback IP redirect
    /// (<c>http://127.0.0.1</c> or <c>http://[::1]</c>) may name any port, as native apps pick theirs at run time (RFC 8252 §7.3).
    /// </summary>
    public static bool Matches(string registered, string requested)
    {
        if (string.Equals(registered, requested, StringComparison.Ordinal))
        {
            return true;
        }

        return LoopbackIpRedirect().Match(registered) is { Success: true } left
            && LoopbackIpRedirect().Match(requested) is { Success: true } right
            && left.Groups["host"].Value == right.Groups["host"].Value
            && left.Groups["rest"].Value == right.Groups["rest"].Value
            && IsAcceptable(requested);
    }

    [GeneratedRegex(@"^http://(?<host>127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?(?<rest>[/?].*)?$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex LoopbackIpRedirect();
}
