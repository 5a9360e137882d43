using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Web;

/// <summary>
/// The account page <c>/account</c>: the account's API keys (listed here; created and revoked by <c>account.js</c> through
/// <c>/api/v1/account/keys</c>), its default for AI captions (<c>PATCH /api/v1/account</c>), and a ShareX uploader
/// (<c>POST /account/sharex</c>, a form with the anti-forgery token, because it creates a key).
/// </summary>
public static class AccountPage
{
    public const string ShareXPath = "/account/sharex";

    public static IEndpointRouteBuilder MapAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet(Html.AccountPath, ShowAsync).ExcludeFromDescription();
        app.MapPost(ShareXPath, ShareXAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> ShowAsync(
        HttpContext context, ImagebinDb db, SiteUrls site, IAntiforgery antiforgery, IOptions<AuthorityOptions> authority, CancellationToken cancellationToken)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            return SignInPages.SignInFirst(context);
        }

        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.AccountId == account.Id)
            .OrderByDescending(k => k.CreatedAt).ThenByDescending(k => k.Id).ToListAsync(cancellationToken);
        var resources = authority.Value.Resources(site);
        var body = new StringBuilder();
        AppendKeys(body, keys.Select(ApiKeyDto.From), account.Role == AccountRoles.Admin, resources);
        AppendSettings(body, account);
        AppendShareX(body, antiforgery.GetAndStoreTokens(context).RequestToken);
        body.Append("<dialog id=\"confirm-dialog\" aria-labelledby=\"confirm-title\" aria-describedby=\"confirm-text\">")
            .Append("<form method=\"dialog\"><h2 id=\"confirm-title\">Revoke this key?</h2><p id=\"confirm-text\"></p>")
            .Append("<button type=\"submit\" value=\"cancel\" class=\"secondary\" autofocus>Cancel</button>")
            .Append("<button type=\"submit\" value=\"revoke\" class=\"danger\">Revoke</button>")
            .Append("</form></dialog>");
        return Html.AppPage("Account", body.ToString(), imagesFrom: $"{site.DirectBase}/",
            scripts: [SiteAssets.PathOf("api.js"), SiteAssets.PathOf("account.js")]);
    }

    private static void AppendKeys(StringBuilder html, IEnumerable<ApiKeyDto> keys, bool admin, string[] resources)
    {
        html.Append("<section aria-labelledby=\"keys-heading\"><h2 id=\"keys-heading\">API keys</h2>")
            .Append("<p>A key lets a program (curl, ShareX, an MCP client) act as you with the scopes you give it. Its secret is shown once, when it is made.</p>")
            .Append("<noscript><p>Creating and revoking keys need JavaScript.</p></noscript>")
            .Append("<table class=\"keys\"><caption class=\"visually-hidden\">Your API keys</caption><thead><tr>")
            .Append("<th scope=\"col\">Key</th><th scope=\"col\">Scopes</th><th scope=\"col\">For</th><th scope=\"col\">Created</th>")
            .Append("<th scope=\"col\">Expires</th><th scope=\"col\">Last used</th><th scope=\"col\">State</th></tr></thead><tbody id=\"keys-body\">");
        foreach (var key in keys)
        {
            html.Append("<tr data-key-id=\"").Append(Html.Encode(key.Id)).Append("\">")
                .Append("<td><code>").Append(Html.Encode(ApiKeys.Prefix + key.Id)).Append("_…</code></td>")
                .Append("<td>").Append(Html.Encode(string.Join(" ", key.Scopes))).Append("</td>")
                .Append("<td>").Append(Html.Encode(key.Audience)).Append("</td>")
                .Append("<td>").Append(Date(key.CreatedAt)).Append("</td>")
                .Append("<td>").Append(key.ExpiresAt is { } expires ? Date(expires) : "never").Append("</td>")
                .Append("<td>").Append(key.LastUsedAt is { } used ? Date(used) : "never").Append("</td>")
                .Append("<td class=\"key-state\">");
            if (key.RevokedAt is not null)
            {
                html.Append("revoked");
            }
            else
            {
                html.Append("<button type=\"button\" class=\"revoke-key danger\" data-key-id=\"").Append(Html.Encode(key.Id)).Append("\" disabled>Revoke <span class=\"visually-hidden\">")
                    .Append(Html.Encode(ApiKeys.Prefix + key.Id)).Append("</span></button>");
            }

            html.Append("</td></tr>");
        }

        html.Append("</tbody></table><p id=\"keys-status\" role=\"status\" aria-live=\"polite\"></p>")
            .Append("<h3>New key</h3><form id=\"create-key\"><fieldset disabled><legend>Scopes</legend>");
        foreach (var (scope, label, check) in new[]
        {
            (Scopes.ImageCreate, "image:create — upload, edit, manage keys", true),
            (Scopes.ImageRead, "image:read — list and read your images", true),
            (Scopes.ImageDelete, "image:delete — delete your images", false),
        }.Concat(admin ? [(Scopes.Admin, "admin — moderate the site", false)] : []))
        {
            html.Append("<div class=\"check\"><input type=\"checkbox\" name=\"scope\" id=\"scope-").Append(Html.Encode(scope.Replace(':', '-')))
                .Append("\" value=\"").Append(Html.Encode(scope)).Append('"').Append(check ? " checked" : "").Append('>')
                .Append("<label class=\"scope\" for=\"scope-").Append(Html.Encode(scope.Replace(':', '-'))).Append("\">").Append(Html.Encode(label)).Append("</label></div>");
        }

        html.Append("</fieldset><fieldset disabled><legend>For</legend>")
            .Append("<div class=\"check\"><input type=\"radio\" name=\"audience\" id=\"audience-api\" value=\"").Append(Html.Encode(resources[0])).Append("\" checked>")
            .Append("<label class=\"scope\" for=\"audience-api\">The REST API (").Append(Html.Encode(resources[0])).Append(")</label></div>")
            .Append("<div class=\"check\"><input type=\"radio\" name=\"audience\" id=\"audience-mcp\" value=\"").Append(Html.Encode(resources[1])).Append("\">")
            .Append("<label class=\"scope\" for=\"audience-mcp\">MCP clients (").Append(Html.Encode(resources[1])).Append(")</label></div>")
            .Append("</fieldset><fieldset disabled><legend class=\"visually-hidden\">Expiry</legend><label for=\"key-expiry\">Expires</label><select id=\"key-expiry\" name=\"expires_in\">")
            .Append("<option value=\"\">Never</option><option value=\"2592000\">In 30 days</option><option value=\"7776000\" selected>In 90 days</option><option value=\"31536000\">In a year</option>")
            .Append("</select><button type=\"submit\">Create key</button></fieldset>")
            .Append("<p id=\"create-status\" role=\"status\" aria-live=\"polite\"></p></form>")
            .Append("<div id=\"new-key\" class=\"new-key\" hidden><p class=\"warning\"><strong>Copy this key now.</strong> It is shown only this once; ")
            .Append("anyone who has it can act as you with its scopes. If you lose it, revoke it and make another.</p>")
            .Append("<label for=\"new-key-value\">Your new key</label><input type=\"text\" id=\"new-key-value\" readonly spellcheck=\"false\" autocomplete=\"off\">")
            .Append("<button type=\"button\" id=\"copy-key\">Copy</button><span id=\"copy-status\" role=\"status\" aria-live=\"polite\"></span></div>")
            .Append("</section>");
    }

    private static void AppendSettings(StringBuilder html, Account account) =>
        html.Append("<section aria-labelledby=\"settings-heading\"><h2 id=\"settings-heading\">Settings</h2>")
            .Append("<form id=\"settings\"><fieldset disabled><legend class=\"visually-hidden\">Defaults for new uploads</legend><div class=\"check\">")
            .Append("<input type=\"checkbox\" id=\"ai-optout\" name=\"ai_optout\"").Append(account.AiOptOut ? " checked" : "").Append('>')
            .Append("<label for=\"ai-optout\">No AI captions for my new uploads (each image can still be changed in <a href=\"")
            .Append(Html.DashboardPath).Append("\">My images</a>)</label></div>")
            .Append("<button type=\"submit\">Save settings</button></fieldset><p id=\"settings-status\" role=\"status\" aria-live=\"polite\"></p></form></section>");

    private static void AppendShareX(StringBuilder html, string? csrf) =>
        html.Append("<section aria-labelledby=\"sharex-heading\"><h2 id=\"sharex-heading\">ShareX</h2>")
            .Append("<p><a href=\"https://getsharex.com/\">ShareX</a> (Windows) can upload screenshots here. The download is a custom uploader ")
            .Append("file with a new key of its own that can only upload (<code>image:create</code>); open it to add the uploader to ShareX. ")
            .Append("Revoke that key above to cut ShareX off.</p>")
            .Append("<form method=\"post\" action=\"").Append(ShareXPath).Append("\">")
            .Append("<input type=\"hidden\" name=\"csrf\" value=\"").Append(Html.Encode(csrf)).Append("\">")
            .Append("<button type=\"submit\" id=\"sharex-download\">Download the ShareX uploader</button></form></section>");

    private static string Date(long milliseconds)
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
        return $"<time datetime=\"{at:yyyy-MM-ddTHH:mm:ssZ}\">{at.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}</time>";
    }

    /// <summary>
    /// A ShareX custom uploader (<c>.sxcu</c>) with a new upload-only key: a POST with the page's anti-forgery token, since it
    /// makes a key; never cached, and the key is in this answer only.
    /// </summary>
    private static async Task<IResult> ShareXAsync(HttpContext context, IAntiforgery antiforgery, ApiKeys apiKeys, SiteUrls site, CancellationToken cancellationToken)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            // A POST cannot be returned to: back to the page the form is on.
            return SignInPages.SignInFirst(Html.AccountPath);
        }

        if (!await SignInPages.IsValidFormAsync(context, antiforgery))
        {
            return Html.Page("ShareX", "<p class=\"error\" role=\"alert\">The form expired or came from another site. Go back, reload and try again.</p>", StatusCodes.Status400BadRequest);
        }

        var created = await apiKeys.CreateAsync(account.Id, [Scopes.ImageCreate], audience: null, lifetime: null, cancellationToken);
        var host = new Uri(site.PublicBase).Host;
        var uploader = new JsonObject
        {
            ["Version"] = "16.0.0",
            ["Name"] = $"Imagebin ({host})",
            ["DestinationType"] = "ImageUploader",
            ["RequestMethod"] = "POST",
            ["RequestURL"] = $"{site.PublicBase}/api/v1/items",
            ["Headers"] = new JsonObject { ["Authorization"] = $"Bearer {created.Token}" },
            ["Body"] = "MultipartFormData",
            ["FileFormName"] = "file",
            ["URL"] = "{json:url}",
            ["ThumbnailURL"] = "{json:direct_url}",
            ["ErrorMessage"] = "{json:detail}",
        };
        var fileName = $"imagebin-{string.Concat(host.Where(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-'))}.sxcu";
        var headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers.ContentDisposition = $"attachment; filename=\"{fileName}\"";
        headers.XContentTypeOptions = "nosniff";
        return Results.Text(uploader.ToJsonString(ShareXJson), "application/json", Encoding.UTF8);
    }

    private static readonly JsonSerializerOptions ShareXJson = new() { WriteIndented = true };
}
