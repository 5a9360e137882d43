using System.Globalization;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Authority;
using Imagebin.Features.Items;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Imagebin.Features.Web;

/// <summary>
/// The moderators' pages (DESIGN.md §12): the review queue, one item's review, the reports, the hash lists and the
/// accounts. They are read here, server-side, through the same services the admin API uses; every change is made by
/// <c>admin.js</c> through <c>/api/v1/admin</c> with the session and its anti-forgery token. To anyone but an admin they
/// do not exist (404, as any unknown path); signed out, they send to the sign-in page. Held images are shown through
/// <c>GET /api/v1/admin/items/{id}/file</c>, which answers admins only and is never cached: their direct URLs stay closed.
/// </summary>
public static class AdminPages
{
    public const string ReportsPath = "/admin/reports";
    public const string HashesPath = "/admin/hashes";
    public const string AccountsPath = "/admin/accounts";
    public const int HashesShown = 500;

    private static readonly (string Href, string Label)[] SubNavigation =
    [
        (Html.AdminPath, "Review queue"), (ReportsPath, "Reports"), (HashesPath, "Hash lists"), (AccountsPath, "Accounts"),
    ];

    public static IEndpointRouteBuilder MapAdminPages(this IEndpointRouteBuilder app)
    {
        app.MapGet(Html.AdminPath, QueueAsync).ExcludeFromDescription();
        app.MapGet("/admin/items/{itemId}", ItemAsync).ExcludeFromDescription();
        app.MapGet(ReportsPath, ReportsAsync).ExcludeFromDescription();
        app.MapGet(HashesPath, HashesAsync).ExcludeFromDescription();
        app.MapGet(AccountsPath, AccountsAsync).ExcludeFromDescription();
        return app;
    }

    /// <summary>Null when the visitor is an admin; else what to answer instead: the sign-in page, or 404.</summary>
    private static async Task<IResult?> RefuseAsync(HttpContext context)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            return SignInPages.SignInFirst(context);
        }

        return account.Role == AccountRoles.Admin ? null : Results.NotFound();
    }

    private static IResult Page(string title, string currentPath, string body, SiteUrls site) =>
        Html.AppPage(title, Navigation(currentPath) + body, imagesFrom: $"{site.DirectBase}/",
            scripts: [SiteAssets.PathOf("api.js"), SiteAssets.PathOf("admin.js")]);

    private static string Navigation(string currentPath)
    {
        var html = new StringBuilder("<nav class=\"admin-nav\" aria-label=\"Admin\"><ul>");
        foreach (var (href, label) in SubNavigation)
        {
            html.Append("<li><a href=\"").Append(href).Append('"').Append(href == currentPath ? " aria-current=\"page\"" : "")
                .Append('>').Append(Html.Encode(label)).Append("</a></li>");
        }

        return html.Append("</ul></nav>").ToString();
    }

    private static async Task<IResult> QueueAsync(HttpContext context, Reviews reviews, SiteUrls site, string? cursor)
    {
        if (await RefuseAsync(context) is { } refused)
        {
            return refused;
        }

        ListCursor.Position? after = cursor is not null && ListCursor.TryDecode(cursor, out var position) ? position : null;
        var queue = await reviews.QueueAsync(ItemsApi.DefaultPageSize, after, context.RequestAborted);
        var body = new StringBuilder();
        body.Append("<p>Held and failed images first, then reported ones, each oldest first. Approving makes an image public; ")
            .Append("removing withdraws it for good and lists its hashes.</p>");
        if (queue.Reviews.Count == 0)
        {
            body.Append("<p class=\"admin-empty\">The queue is empty.</p>");
        }

        foreach (var item in queue.Reviews)
        {
            AppendReview(body, item, detail: false);
        }

        if (queue.NextCursor is { } next)
        {
            body.Append("<p><a href=\"").Append(Html.AdminPath).Append("?cursor=").Append(Html.Encode(Uri.EscapeDataString(next))).Append("\">Next page</a></p>");
        }

        return Page("Review queue", Html.AdminPath, body.ToString(), site);
    }

    private static async Task<IResult> ItemAsync(string itemId, HttpContext context, Reviews reviews, SiteUrls site)
    {
        if (await RefuseAsync(context) is { } refused)
        {
            return refused;
        }

        var item = Ids.IsBase62(itemId) ? await reviews.DescribeAsync(itemId, context.RequestAborted) : null;
        if (item is null)
        {
            return Html.AppPage("No such image", $"{Navigation("")}<p>There is no image <code>{Html.Encode(itemId)}</code>.</p>",
                $"{site.DirectBase}/", [], StatusCodes.Status404NotFound);
        }

        var body = new StringBuilder();
        AppendReview(body, item, detail: true);
        return Page($"Review {item.Item.Id}", "", body.ToString(), site);
    }

    /// <summary>
    /// One item's card: the picture, what the scan found, the reports, and the decision form. The picture is a variant
    /// from the admin file endpoint: 320 pixels (640 on dense screens) in the queue, 1280 with a link to the original file
    /// on the item's own page.
    /// </summary>
    private static void AppendReview(StringBuilder html, AdminItemDto admin, bool detail)
    {
        var item = admin.Item;
        var id = Html.Encode(item.Id);
        var heading = item.Title is { Length: > 0 } title ? title : $"Image {item.Id}";
        html.Append("<article class=\"admin-item\" id=\"item-").Append(id).Append("\" aria-labelledby=\"title-").Append(id).Append("\">")
            .Append("<h2 id=\"title-").Append(id).Append("\">").Append(Html.Encode(heading)).Append("</h2>")
            .Append("<div class=\"admin-item-body\"><div class=\"admin-picture\">");
        if (item.ScanState is ScanState.Blocked or ScanState.Rejected)
        {
            html.Append("<p class=\"admin-note\">The file is not shown: the scanner blocked it or it does not decode.</p>");
        }
        else
        {
            var alt = item.AiCaption ?? item.Title ?? $"Image {item.Id}";
            var file = $"/api/v1/admin/items/{Uri.EscapeDataString(item.Id)}/file";
            string Variant(int width) => string.Create(CultureInfo.InvariantCulture, $"{file}?w={width}");
            var sources = detail
                ? ImageSources.Attributes(Variant, [1280], 1280, item.Width, ViewPages.ViewSizes)
                : ImageSources.Attributes(Variant, [320, 640], 320, item.Width, "20rem");
            html.Append("<img").Append(sources).Append(" alt=\"").Append(Html.Encode(alt)).Append("\" loading=\"lazy\">");
            if (detail)
            {
                html.Append("<p><a href=\"").Append(Html.Encode(file)).Append("\">Original file</a></p>");
            }
        }

        html.Append("</div><dl class=\"item-facts\">")
            .Append("<dt>Id</dt><dd><code>").Append(id).Append("</code></dd>")
            .Append("<dt>State</dt><dd>").Append(Html.Encode(item.ScanState)).Append(" (").Append(Html.Encode(item.Classification)).Append(")</dd>");
        if (item.ScanReason is { Length: > 0 } scanReason)
        {
            html.Append("<dt>Why</dt><dd>").Append(Html.Encode(scanReason)).Append("</dd>");
        }

        html.Append("<dt>Owner</dt><dd>").Append(admin.OwnerId is { } owner ? $"<code>{Html.Encode(owner)}</code>" : "anonymous").Append("</dd>")
            .Append("<dt>Uploaded</dt><dd>").Append(Time(item.CreatedAt)).Append("</dd>")
            .Append("<dt>Type</dt><dd>").Append(Html.Encode(item.ContentType)).Append(", ")
            .Append(item.Width?.ToString(CultureInfo.InvariantCulture) ?? "?").Append('×').Append(item.Height?.ToString(CultureInfo.InvariantCulture) ?? "?")
            .Append(", ").Append(item.SizeBytes.ToString("N0", CultureInfo.InvariantCulture)).Append(" bytes</dd>");
        if (item.Description is { Length: > 0 } description)
        {
            html.Append("<dt>Description</dt><dd>").Append(Html.Encode(description)).Append("</dd>");
        }

        if (item.ScanState == ScanState.Passed && !item.Private)
        {
            html.Append("<dt>Public page</dt><dd><a href=\"").Append(Html.Encode(item.ViewUrl)).Append("\">").Append(Html.Encode(item.ViewUrl)).Append("</a></dd>");
        }

        html.Append("<dt>Open reports</dt><dd>").Append(admin.OpenReports.ToString(CultureInfo.InvariantCulture)).Append("</dd></dl></div>");
        AppendEvidence(html, item.ScanEvidence, id);
        AppendReports(html, admin.Reports);
        if (admin.Removal is { } removal)
        {
            html.Append("<p>Removed ").Append(Time(removal.RemovedAt)).Append(": ").Append(Html.Encode(removal.Reason)).Append("</p>");
        }

        AppendDecisionForm(html, id);
        html.Append("</article>");
    }

    private static void AppendEvidence(StringBuilder html, IReadOnlyList<StageRecord>? stages, string id)
    {
        html.Append("<h3>Scan evidence</h3>");
        if (stages is not { Count: > 0 })
        {
            html.Append("<p>No scan has recorded anything yet.</p>");
            return;
        }

        html.Append("<table class=\"admin-evidence\"><caption class=\"visually-hidden\">Scan evidence for ").Append(id).Append("</caption>")
            .Append("<thead><tr><th scope=\"col\">Stage</th><th scope=\"col\">Engine</th><th scope=\"col\">Outcome</th><th scope=\"col\">Detail</th></tr></thead><tbody>");
        foreach (var stage in stages)
        {
            html.Append("<tr><td>").Append(Html.Encode(StageLabel(stage.Stage))).Append("</td><td>").Append(Html.Encode(stage.Engine));
            if (stage.Version is { Length: > 0 } version)
            {
                html.Append(" <span class=\"admin-muted\">").Append(Html.Encode(version)).Append("</span>");
            }

            html.Append("</td><td>").Append(Html.Encode(stage.Outcome)).Append("</td><td>").Append(Html.Encode(stage.Detail));
            if (stage.Scores is { Count: > 0 } scores)
            {
                html.Append("<ul class=\"admin-scores\">");
                foreach (var (name, score) in scores.OrderByDescending(s => s.Value))
                {
                    html.Append("<li>").Append(Html.Encode(name)).Append(": ").Append(score.ToString("0.###", CultureInfo.InvariantCulture)).Append("</li>");
                }

                html.Append("</ul>");
            }

            html.Append("</td></tr>");
        }

        html.Append("</tbody></table>");
    }

    private static string StageLabel(string stage) => stage switch
    {
        ScanStages.Malware => "Malware",
        ScanStages.HashList => "Hash lists",
        ScanStages.Decode => "Decode",
        ScanStages.Classifier => "NSFW classifier",
        ScanStages.Review => "Moderator",
        ScanStages.Reports => "Reports",
        _ => stage,
    };

    private static void AppendReports(StringBuilder html, IReadOnlyList<ReportDto> reports)
    {
        html.Append("<h3>Reports (").Append(reports.Count.ToString(CultureInfo.InvariantCulture)).Append(")</h3>");
        if (reports.Count == 0)
        {
            html.Append("<p>No reports.</p>");
            return;
        }

        html.Append("<ul class=\"admin-reports\">");
        foreach (var report in reports)
        {
            html.Append("<li><strong>").Append(Html.Encode(report.Category)).Append("</strong> ").Append(Time(report.CreatedAt));
            if (report.ReporterAccountId is { } reporter)
            {
                html.Append(" by <code>").Append(Html.Encode(reporter)).Append("</code>");
            }

            if (report.Details is { Length: > 0 } details)
            {
                html.Append(": ").Append(Html.Encode(details));
            }

            if (report.Resolution is { } resolution)
            {
                html.Append(" <span class=\"admin-muted\">(resolved: ").Append(Html.Encode(resolution)).Append(")</span>");
            }

            html.Append("</li>");
        }

        html.Append("</ul>");
    }

    private static void AppendDecisionForm(StringBuilder html, string id)
    {
        html.Append("<form class=\"review-form\" data-item-id=\"").Append(id).Append("\"><fieldset><legend>Decision</legend>")
            .Append("<label for=\"reason-").Append(id).Append("\">Reason (required to remove; goes in the audit trail)</label>")
            .Append("<input type=\"text\" id=\"reason-").Append(id).Append("\" name=\"reason\" maxlength=\"1000\" autocomplete=\"off\">")
            .Append("<label for=\"category-").Append(id).Append("\">Category of abuse (for a removal)</label>")
            .Append("<select id=\"category-").Append(id).Append("\" name=\"category\"><option value=\"\">As most reports say</option>");
        foreach (var category in ReportCategories.All)
        {
            html.Append("<option value=\"").Append(category).Append("\">").Append(category.Replace('_', ' ')).Append("</option>");
        }

        html.Append("</select>")
            .Append("<button type=\"button\" data-decision=\"approve\">Approve</button>")
            .Append("<button type=\"button\" data-decision=\"remove\" class=\"danger\">Remove</button>")
            .Append("<p class=\"review-status\" role=\"status\" aria-live=\"polite\" tabindex=\"-1\"></p></fieldset></form>");
    }

    private static async Task<IResult> ReportsAsync(HttpContext context, ImagebinDb db, SiteUrls site)
    {
        if (await RefuseAsync(context) is { } refused)
        {
            return refused;
        }

        var reports = await db.Reports.AsNoTracking().OrderByDescending(r => r.CreatedAt).Take(500)
            .GroupJoin(db.Accounts, r => r.ReporterAccountId, a => a.Id, (r, accounts) => new { Report = r, Accounts = accounts })
            .SelectMany(x => x.Accounts.DefaultIfEmpty(), (x, a) => new { x.Report, ReporterName = a == null ? null : a.Name })
            .ToListAsync(context.RequestAborted);
        var body = new StringBuilder("<p>The newest 500 reports, newest first.</p>");
        if (reports.Count == 0)
        {
            body.Append("<p class=\"admin-empty\">No reports.</p>");
        }
        else
        {
            body.Append("<table class=\"admin-table\"><caption class=\"visually-hidden\">Reports</caption><thead><tr>")
                .Append("<th scope=\"col\">Filed</th><th scope=\"col\">Image</th><th scope=\"col\">Reason</th><th scope=\"col\">Details</th>")
                .Append("<th scope=\"col\">Reporter</th><th scope=\"col\">State</th></tr></thead><tbody>");
            foreach (var (report, reporter) in reports.OrderByDescending(x => x.Report.CreatedAt).Select(x => (x.Report, x.ReporterName)))
            {
                var itemId = Html.Encode(report.ItemId);
                body.Append("<tr><td data-label=\"Filed\">").Append(Time(report.CreatedAt)).Append("</td>")
                    .Append("<td data-label=\"Image\"><a href=\"/admin/items/").Append(itemId).Append("\">Review <code>").Append(itemId).Append("</code></a></td>")
                    .Append("<td data-label=\"Reason\">").Append(Html.Encode(report.Category)).Append("</td>")
                    .Append("<td data-label=\"Details\">").Append(Html.Encode(report.Details)).Append("</td>")
                    .Append("<td data-label=\"Reporter\">").Append(reporter is null ? Html.Encode(report.Reporter) : Html.Encode(reporter)).Append("</td>")
                    .Append("<td data-label=\"State\">").Append(report.ResolvedAt is null ? "open" : $"resolved: {Html.Encode(report.Resolution)}").Append("</td></tr>");
            }

            body.Append("</tbody></table>");
        }

        return Page("Reports", ReportsPath, body.ToString(), site);
    }

    private static async Task<IResult> HashesAsync(HttpContext context, ImagebinDb db, SiteUrls site, string? imported)
    {
        if (await RefuseAsync(context) is { } refused)
        {
            return refused;
        }

        var total = await db.HashListEntries.LongCountAsync(context.RequestAborted);
        var entries = await db.HashListEntries.AsNoTracking().OrderByDescending(e => e.Id).Take(HashesShown).ToListAsync(context.RequestAborted);
        var body = new StringBuilder();
        body.Append("<p id=\"hash-status\" role=\"status\" aria-live=\"polite\" tabindex=\"-1\">");
        if (imported is not null && int.TryParse(imported, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            body.Append("Imported ").Append(count.ToString(CultureInfo.InvariantCulture)).Append(count == 1 ? " entry." : " entries.");
        }

        body.Append("</p><p>Uploads whose SHA-256 or PDQ hash is listed are blocked or held for review. ")
            .Append("<a href=\"/api/v1/admin/hashes\" download>Export the whole list as CSV</a> (")
            .Append(total.ToString("N0", CultureInfo.InvariantCulture)).Append(total == 1 ? " entry)." : " entries).</p>")
            .Append("<h2>Import</h2><form id=\"hash-import\"><p>A CSV with the header <code>kind,hash,action,reason</code>: kind ")
            .Append("<code>sha256</code> or <code>pdq</code>, 64 hex digits, action <code>block</code> or <code>hold</code>. One bad line refuses the whole file.</p>")
            .Append("<label for=\"hash-csv\">CSV text</label><textarea id=\"hash-csv\" name=\"csv\" rows=\"6\" spellcheck=\"false\"></textarea>")
            .Append("<label for=\"hash-file\">Or a CSV file</label><input type=\"file\" id=\"hash-file\" name=\"file\" accept=\".csv,text/csv,text/plain\">")
            .Append("<button type=\"submit\">Import</button></form>")
            .Append("<h2>Entries</h2>");
        if (entries.Count == 0)
        {
            body.Append("<p class=\"admin-empty\">The lists are empty.</p>");
        }
        else
        {
            if (total > HashesShown)
            {
                body.Append("<p>The newest ").Append(HashesShown.ToString(CultureInfo.InvariantCulture)).Append(" entries; the export has them all.</p>");
            }

            body.Append("<table class=\"admin-table\" id=\"hash-entries\"><caption class=\"visually-hidden\">Hash list entries</caption><thead><tr>")
                .Append("<th scope=\"col\">Kind</th><th scope=\"col\">Hash</th><th scope=\"col\">Action</th><th scope=\"col\">Reason</th>")
                .Append("<th scope=\"col\">Source</th><th scope=\"col\">Added</th><th scope=\"col\"><span class=\"visually-hidden\">Delete</span></th></tr></thead><tbody>");
            foreach (var entry in entries)
            {
                var kind = Html.Encode(entry.Kind);
                var hash = Html.Encode(entry.Hash);
                body.Append("<tr><td data-label=\"Kind\">").Append(kind).Append("</td><td data-label=\"Hash\"><code class=\"admin-hash\">").Append(hash).Append("</code></td>")
                    .Append("<td data-label=\"Action\">").Append(Html.Encode(entry.Action)).Append("</td><td data-label=\"Reason\">").Append(Html.Encode(entry.Reason)).Append("</td>")
                    .Append("<td data-label=\"Source\">").Append(Html.Encode(entry.Source)).Append("</td><td data-label=\"Added\">").Append(Time(entry.CreatedAt)).Append("</td>")
                    .Append("<td><button type=\"button\" class=\"hash-delete danger\" data-kind=\"").Append(kind).Append("\" data-hash=\"").Append(hash)
                    .Append("\" aria-label=\"Delete ").Append(kind).Append(' ').Append(hash).Append("\">Delete</button></td></tr>");
            }

            body.Append("</tbody></table>");
        }

        return Page("Hash lists", HashesPath, body.ToString(), site);
    }

    private static async Task<IResult> AccountsAsync(HttpContext context, AccountBans bans, SiteUrls site, string? q, string? cursor)
    {
        if (await RefuseAsync(context) is { } refused)
        {
            return refused;
        }

        var me = (await Sessions.CurrentAccountAsync(context))!;
        q = q?.Trim() is { Length: > 0 and <= AccountBans.MaxQuery } query ? query : null;
        ListCursor.Position? after = cursor is not null && ListCursor.TryDecode(cursor, out var position) ? position : null;
        var list = await bans.ListAsync(q, ItemsApi.DefaultPageSize, after, context.RequestAborted);
        var body = new StringBuilder();
        body.Append("<form method=\"get\" action=\"").Append(AccountsPath).Append("\" role=\"search\" class=\"admin-search\">")
            .Append("<label for=\"account-q\">Name contains</label><input type=\"search\" id=\"account-q\" name=\"q\" maxlength=\"64\" value=\"")
            .Append(Html.Encode(q)).Append("\"><button type=\"submit\">Search</button></form>")
            .Append("<p>A ban refuses the account's keys and tokens and ends its browser sessions at once; its images stay. ")
            .Append("Admin accounts are not banned here.</p>");
        if (list.Accounts.Count == 0)
        {
            body.Append("<p class=\"admin-empty\">No accounts match.</p>");
        }
        else
        {
            body.Append("<table class=\"admin-table\"><caption class=\"visually-hidden\">Accounts</caption><thead><tr>")
                .Append("<th scope=\"col\">Name</th><th scope=\"col\">Role</th><th scope=\"col\">Created</th><th scope=\"col\">Banned</th>")
                .Append("<th scope=\"col\">Images</th><th scope=\"col\">Ban or unban</th></tr></thead><tbody>");
            foreach (var account in list.Accounts)
            {
                var id = Html.Encode(account.Id);
                var name = Html.Encode(account.Name);
                body.Append("<tr id=\"account-").Append(id).Append("\"><td data-label=\"Name\">").Append(name).Append("</td><td data-label=\"Role\">").Append(Html.Encode(account.Role)).Append("</td>")
                    .Append("<td data-label=\"Created\">").Append(Time(account.CreatedAt)).Append("</td>")
                    .Append("<td data-label=\"Banned\" class=\"account-banned\">").Append(account.Banned ? "yes" : "no").Append("</td>")
                    .Append("<td data-label=\"Images\">").Append(account.ItemCount.ToString(CultureInfo.InvariantCulture)).Append("</td><td>");
                if (account.Role == AccountRoles.Admin || account.Id == me.Id)
                {
                    body.Append("<span class=\"admin-muted\">admin</span>");
                }
                else
                {
                    body.Append("<form class=\"ban-form\" data-account-id=\"").Append(id).Append("\" data-banned=\"").Append(account.Banned ? "true" : "false").Append("\">")
                        .Append("<label for=\"ban-reason-").Append(id).Append("\">Reason for ").Append(name).Append("</label>")
                        .Append("<input type=\"text\" id=\"ban-reason-").Append(id).Append("\" name=\"reason\" maxlength=\"1000\" autocomplete=\"off\" required>")
                        .Append("<button type=\"submit\"").Append(account.Banned ? "" : " class=\"danger\"").Append('>')
                        .Append(account.Banned ? "Unban" : "Ban").Append("</button>")
                        .Append("<p class=\"ban-status\" role=\"status\" aria-live=\"polite\"></p></form>");
                }

                body.Append("</td></tr>");
            }

            body.Append("</tbody></table>");
        }

        if (list.NextCursor is { } next)
        {
            body.Append("<p><a href=\"").Append(AccountsPath).Append("?cursor=").Append(Html.Encode(Uri.EscapeDataString(next)))
                .Append(q is null ? "" : "&amp;q=" + Html.Encode(Uri.EscapeDataString(q))).Append("\">Next page</a></p>");
        }

        return Page("Accounts", AccountsPath, body.ToString(), site);
    }

    private static string Time(long unixMilliseconds)
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds);
        return $"<time datetime=\"{at.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}\">{at.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC</time>";
    }
}
