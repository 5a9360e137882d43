using System.Text;
using System.Text.Encodings.Web;
using Imagebin.Features.Web;

namespace Imagebin.Features.Authority;

/// <summary>
/// The layout of every server-rendered page (sign-in, sign-up, consent, documentation, policies): a skip link, the header
/// with the site's navigation, the page, a footer, and the site's one stylesheet; plain HTML, every value encoded, and no script
/// but a page's own file of this site where it needs one (<see cref="ScriptPage"/>).
/// </summary>
public static class Html
{
    /// <summary>
    /// Nothing may be framed (clickjacking a consent), nothing loaded from elsewhere, no inline style or script run, and
    /// forms post only here.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>
    /// <see cref="ContentSecurityPolicy"/> without <c>form-action</c>, for the consent page only: its form posts to
    /// <c>/oauth/authorize</c>, which answers with a redirect to the client's redirect URI on another origin, and Chromium
    /// checks <c>form-action</c> against every redirect of a form's navigation (checked with Chromium 156: the POST to a
    /// same-origin action that redirects off-origin is blocked, reported as a violation by the action URL), so the policy
    /// would stop the user on the way back to the application. The form's action is a fixed path of this site in the
    /// page's own markup, and no script runs that could change it.
    /// </summary>
    public const string ConsentContentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>
    /// <see cref="ContentSecurityPolicy"/> with this site's own scripts and requests, for a page that needs a script
    /// (<see cref="ScriptPage"/>): <c>script-src 'self'</c> runs only files served from here (no inline script, no
    /// <c>eval</c>), and <c>connect-src 'self'</c> lets that script call this site's API and nothing else.
    /// </summary>
    public const string ScriptContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>
    /// <see cref="ContentSecurityPolicy"/> that also allows images from <paramref name="source"/>: the view page shows an
    /// image from the direct host, which may be another origin than the site.
    /// </summary>
    public static string ContentSecurityPolicyWithImagesFrom(string source) =>
        $"default-src 'none'; style-src 'self'; img-src 'self' data: {source}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>
    /// <see cref="ScriptContentSecurityPolicy"/> that also allows images from <paramref name="source"/> (the direct host)
    /// and <c>blob:</c> previews of files the visitor picked, for the pages that show images and run a script (home,
    /// dashboard, admin).
    /// </summary>
    public static string ScriptContentSecurityPolicyWithImagesFrom(string source, string? challengeOrigin = null) => challengeOrigin is null
        ? $"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data: blob: {source}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        // A third-party browser challenge (Cloudflare Turnstile, when the operator configures it) runs its script and frame
        // from its own origin: that origin and no other.
        : $"default-src 'none'; script-src 'self' {challengeOrigin}; frame-src {challengeOrigin}; connect-src 'self' {challengeOrigin}; style-src 'self'; img-src 'self' data: blob: {source}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>Where a reader goes next, in the header of every page seen without signing in.</summary>
    public static readonly (string Href, string Label)[] Navigation =
    [
        ("/", "Home"), ("/docs", "Docs"), ("/guide", "Guide"), (SignInPages.SignInPath, "Sign in"),
    ];

    /// <summary>The header's links for a signed-in account (a sign-out button follows them).</summary>
    public static readonly (string Href, string Label)[] SignedInNavigation =
    [
        ("/", "Home"), (DashboardPath, "My images"), (AccountPath, "Account"), ("/docs", "Docs"),
    ];

    /// <summary>The owner's dashboard and the account page (issue 8), linked from the signed-in header.</summary>
    public const string DashboardPath = "/dashboard";

    public const string AccountPath = "/account";

    public const string AdminPath = "/admin";

    /// <summary>The name of the <c>&lt;meta&gt;</c> that carries the anti-forgery token for a signed-in page's scripts.</summary>
    public const string CsrfMetaName = "csrf-token";

    /// <summary>The rest of the documentation and the policies, in the footer of every page.</summary>
    public static readonly (string Href, string Label)[] FooterLinks =
    [
        ("/docs/api", "API reference"), ("/docs/errors", "Errors"), ("/privacy", "Privacy"), ("/terms", "Terms"), ("/abuse", "Abuse"),
    ];

    public static string Encode(string? value) => HtmlEncoder.Default.Encode(value ?? "");

    /// <summary>A page of the account or authority (a form, an error): not indexed, never cached, in a narrow column.</summary>
    public static IResult Page(string title, string body, int status = StatusCodes.Status200OK) =>
        new PageResult(title, body, status, PageShape.Private(ContentSecurityPolicy));

    /// <summary>
    /// <see cref="Page"/> with one script of this site (a content-hashed <see cref="SiteAssets"/> path), loaded deferred,
    /// under <see cref="ScriptContentSecurityPolicy"/>.
    /// </summary>
    public static IResult ScriptPage(string title, string body, string scriptPath, int status = StatusCodes.Status200OK) =>
        ScriptPage(title, body, [scriptPath], status);

    /// <summary><see cref="ScriptPage(string, string, string, int)"/> with several scripts, run in order.</summary>
    public static IResult ScriptPage(string title, string body, IReadOnlyList<string> scriptPaths, int status = StatusCodes.Status200OK) =>
        new PageResult(title, body, status, PageShape.Private(ScriptContentSecurityPolicy) with { Scripts = scriptPaths });

    /// <summary>
    /// A page of the web application (home, dashboard, account, admin): the wide column, this site's
    /// <paramref name="scripts"/> (content-hashed <see cref="SiteAssets"/> paths), images from <paramref name="imagesFrom"/>
    /// (the direct host), never indexed or cached unless <paramref name="cacheControl"/> says otherwise; a signed-in
    /// visitor's page is never cached publicly whatever it says.
    /// </summary>
    public static IResult AppPage(string title, string body, string imagesFrom, IReadOnlyList<string> scripts, int status = StatusCodes.Status200OK,
        bool indexable = false, string cacheControl = "no-store", string? challengeOrigin = null) =>
        new PageResult(title, body, status, new PageShape(indexable, Wide: true, ScriptContentSecurityPolicyWithImagesFrom(imagesFrom, challengeOrigin), cacheControl) { Scripts = scripts });

    /// <summary>The consent page: <see cref="Page"/> under <see cref="ConsentContentSecurityPolicy"/>.</summary>
    public static IResult ConsentPage(string title, string body) =>
        new PageResult(title, body, StatusCodes.Status200OK, PageShape.Private(ConsentContentSecurityPolicy));

    /// <summary>
    /// A page of the site's documentation or policies: indexable, with a wider column for code, and cacheable for a few
    /// minutes (its content changes only with configuration).
    /// </summary>
    public static IResult PublicPage(string title, string body, int status = StatusCodes.Status200OK) =>
        new PageResult(title, body, status, PageShape.Public(ContentSecurityPolicy, "public, max-age=300"));

    /// <summary>
    /// A page in the wide column with its own extra <c>&lt;head&gt;</c> markup (already encoded), policy and caching, for
    /// pages whose indexing and caching depend on what they show (the view page of an image).
    /// </summary>
    internal static PageResult WidePage(string title, string head, string body, bool indexable, string contentSecurityPolicy, string cacheControl,
        IReadOnlyList<string>? scripts = null, int status = StatusCodes.Status200OK) =>
        new PageResult(title, body, status, new PageShape(indexable, Wide: true, contentSecurityPolicy, cacheControl, head) { Scripts = scripts ?? [] });

    private static string Render(string title, string body, PageShape shape, string currentPath, Data.Account? account, string? csrfToken)
    {
        var html = new StringBuilder()
            .Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append(shape.Indexable ? "" : "<meta name=\"robots\" content=\"noindex\">")
            .Append("<title>").Append(Encode(title)).Append(" · Imagebin</title>")
            .Append(shape.Head)
            .Append("<link rel=\"stylesheet\" href=\"").Append(SiteAssets.StylesheetPath).Append("\">")
            // An empty icon: without one every browser asks for /favicon.ico, which this site does not have.
            .Append("<link rel=\"icon\" href=\"data:,\">")
            .Append(csrfToken is null ? "" : $"<meta name=\"{CsrfMetaName}\" content=\"{Encode(csrfToken)}\">");
        foreach (var script in shape.Scripts)
        {
            html.Append("<script src=\"").Append(Encode(script)).Append("\" defer></script>");
        }

        html.Append("</head><body>")
            .Append("<a class=\"skip-link\" href=\"#content\">Skip to content</a>")
            .Append("<header class=\"site-header\"><div class=\"site-header-inner\">")
            .Append("<a class=\"site-name\" href=\"/\">Imagebin</a>")
            .Append("<nav class=\"site-nav\" aria-label=\"Site\">");
        if (account is null)
        {
            AppendLinks(html, Navigation, currentPath);
        }
        else
        {
            AppendLinks(html, account.Role == Data.AccountRoles.Admin ? [.. SignedInNavigation, (AdminPath, "Admin")] : SignedInNavigation, currentPath);
            // A form, not a link: signing out changes state, so it is a POST with the anti-forgery token.
            html.Append("<form class=\"sign-out\" method=\"post\" action=\"").Append(SignInPages.SignOutPath).Append("\">")
                .Append("<input type=\"hidden\" name=\"csrf\" value=\"").Append(Encode(csrfToken)).Append("\">")
                .Append("<button type=\"submit\" class=\"link-button\">Sign out <span class=\"account-name\">")
                .Append(Encode(account.Name)).Append("</span></button></form>");
        }

        html.Append("</nav></div></header>")
            .Append(shape.Wide ? "<main id=\"content\">" : "<main id=\"content\" class=\"narrow\">")
            .Append("<h1>").Append(Encode(title)).Append("</h1>")
            .Append(body)
            .Append("</main><footer class=\"site-footer\"><nav aria-label=\"More\">");
        AppendLinks(html, FooterLinks, currentPath);
        return html.Append("</nav></footer></body></html>").ToString();
    }

    private static void AppendLinks(StringBuilder html, (string Href, string Label)[] links, string currentPath)
    {
        html.Append("<ul>");
        foreach (var (href, label) in links)
        {
            html.Append("<li><a href=\"").Append(Encode(href)).Append('"')
                .Append(href == currentPath ? " aria-current=\"page\"" : "")
                .Append('>').Append(Encode(label)).Append("</a></li>");
        }

        html.Append("</ul>");
    }

    /// <summary>How a page is indexed, laid out, protected and cached.</summary>
    internal sealed record PageShape(bool Indexable, bool Wide, string ContentSecurityPolicy, string CacheControl, string Head = "")
    {
        /// <summary>This site's scripts the page loads (deferred), as content-hashed <see cref="SiteAssets"/> paths.</summary>
        public IReadOnlyList<string> Scripts { get; init; } = [];

        public static PageShape Private(string contentSecurityPolicy) => new(Indexable: false, Wide: false, contentSecurityPolicy, "no-store");

        public static PageShape Public(string contentSecurityPolicy, string cacheControl) => new(Indexable: true, Wide: true, contentSecurityPolicy, cacheControl);
    }

    internal sealed class PageResult(string title, string body, int status, PageShape shape) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            // The header shows who is signed in: a page seen with a session is that account's alone, and a page seen
            // without one must not be served from a cache to someone who has one.
            var account = await Sessions.CurrentAccountAsync(httpContext);
            var csrfToken = account is null ? null
                : httpContext.RequestServices.GetRequiredService<Microsoft.AspNetCore.Antiforgery.IAntiforgery>().GetAndStoreTokens(httpContext).RequestToken;
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = "text/html; charset=utf-8";
            response.Headers.CacheControl = account is null ? shape.CacheControl : "private, no-store";
            response.Headers.Vary = "Cookie";
            response.Headers.XFrameOptions = "DENY";
            response.Headers.ContentSecurityPolicy = shape.ContentSecurityPolicy;
            response.Headers.XContentTypeOptions = "nosniff";
            response.Headers["Referrer-Policy"] = "no-referrer";
            var html = Render(title, body, shape, httpContext.Request.Path.Value ?? "/", account, csrfToken);
            await response.WriteAsync(html, httpContext.RequestAborted);
        }
    }
}
