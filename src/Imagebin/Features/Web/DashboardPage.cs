using System.Globalization;
using System.Text;
using Imagebin.Data;
using Imagebin.Features.Authority;
using Imagebin.Features.Items;
using Imagebin.Features.Media;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Web;

/// <summary>
/// The owner's dashboard <c>/dashboard</c> ("My images"): the account's items as <c>GET /api/v1/account/items</c> lists them
/// (the same <see cref="OwnerItems.ListAsync"/>, filters and cursor), rendered on the server so the list, the filters and
/// the paging work without a script; <c>dashboard.js</c> adds editing (<c>PATCH /api/v1/items/{id}</c>) and deleting
/// (<c>DELETE</c>, one or many) through the REST API on the session.
/// </summary>
public static class DashboardPage
{
    public static IEndpointRouteBuilder MapDashboardPage(this IEndpointRouteBuilder app)
    {
        app.MapGet(Html.DashboardPath, ShowAsync).ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> ShowAsync(
        HttpContext context,
        ImagebinDb db,
        SiteUrls site,
        DownloadCounter downloads,
        IOptions<ModerationOptions> moderation,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        if (account is null)
        {
            return SignInPages.SignInFirst(context);
        }

        var query = context.Request.Query;
        var filter = new ListFilter(
            Blank(query["classification"]), Blank(query["private"]), Blank(query["q"]), Blank(query["limit"]), Blank(query["cursor"]));
        var (list, error) = await OwnerItems.ListAsync(db, site, downloads, time, account.Id, filter, cancellationToken);
        var body = new StringBuilder();
        AppendFilters(body, filter);
        if (error is not null)
        {
            body.Append("<p class=\"error\" role=\"alert\">").Append(Html.Encode(error.Detail)).Append("</p>");
        }
        else
        {
            AppendList(body, list!, filter, moderation.Value.ServeBeforeScan);
        }

        AppendConfirmDialog(body);
        return Html.AppPage("My images", body.ToString(), imagesFrom: $"{site.DirectBase}/",
            scripts: [SiteAssets.PathOf("api.js"), SiteAssets.PathOf("dashboard.js"), SiteAssets.PathOf("placeholder.js")],
            status: error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    private static string? Blank(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>A GET form: the filters are in the address, so a filtered page can be bookmarked and needs no script.</summary>
    private static void AppendFilters(StringBuilder html, ListFilter filter)
    {
        html.Append("<form class=\"dash-filters\" method=\"get\" action=\"").Append(Html.DashboardPath).Append("\" role=\"search\" aria-label=\"Filter your images\">")
            .Append("<div><label for=\"filter-q\">Search</label><input type=\"search\" id=\"filter-q\" name=\"q\" maxlength=\"200\" value=\"")
            .Append(Html.Encode(filter.Q)).Append("\"></div>")
            .Append("<div><label for=\"filter-classification\">Classification</label><select id=\"filter-classification\" name=\"classification\">")
            .Append(Option("", "Any", filter.Classification));
        foreach (var classification in Classification.All)
        {
            html.Append(Option(classification, classification, filter.Classification));
        }

        html.Append("</select></div>")
            .Append("<div><label for=\"filter-private\">Visibility</label><select id=\"filter-private\" name=\"private\">")
            .Append(Option("", "Any", filter.Private)).Append(Option("true", "Private", filter.Private)).Append(Option("false", "Public", filter.Private))
            .Append("</select></div>");
        if (filter.Limit is not null)
        {
            html.Append("<input type=\"hidden\" name=\"limit\" value=\"").Append(Html.Encode(filter.Limit)).Append("\">");
        }

        html.Append("<div><button type=\"submit\">Filter</button></div></form>");
    }

    private static string Option(string value, string label, string? selected) =>
        $"<option value=\"{Html.Encode(value)}\"{(value == (selected ?? "") ? " selected" : "")}>{Html.Encode(label)}</option>";

    private static void AppendList(StringBuilder html, ItemListDto list, ListFilter filter, bool serveBeforeScan)
    {
        html.Append("<h2 id=\"items-heading\" tabindex=\"-1\">Images</h2>")
            .Append("<noscript><p>Editing and deleting need JavaScript; the list, the filters and the paging work without it.</p></noscript>")
            .Append("<p id=\"dash-status\" role=\"status\" aria-live=\"polite\"></p>");
        if (list.Items.Count == 0)
        {
            var filtered = filter.Q is not null || filter.Classification is not null || filter.Private is not null;
            html.Append("<p>").Append(filtered ? "No images match these filters." : filter.Cursor is null ? "No images yet." : "No more images.").Append("</p>");
        }
        else
        {
            html.Append("<div class=\"dash-bulk\"><button type=\"button\" id=\"delete-selected\" class=\"danger\" disabled>Delete selected</button></div>")
                .Append("<ul class=\"dash-items\" aria-labelledby=\"items-heading\">");
            foreach (var item in list.Items)
            {
                AppendItem(html, item, serveBeforeScan);
            }

            html.Append("</ul>");
        }

        html.Append("<nav class=\"dash-pages\" aria-label=\"Pages\"><ul>");
        if (filter.Cursor is not null)
        {
            html.Append("<li><a href=\"").Append(Html.Encode(PageLink(filter, cursor: null))).Append("\">First page</a></li>");
        }

        if (list.NextCursor is { } next)
        {
            html.Append("<li><a rel=\"next\" href=\"").Append(Html.Encode(PageLink(filter, next))).Append("\">Next page</a></li>");
        }

        html.Append("</ul></nav>");
    }

    private static string PageLink(ListFilter filter, string? cursor)
    {
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }

        Add("q", filter.Q);
        Add("classification", filter.Classification);
        Add("private", filter.Private);
        Add("limit", filter.Limit);
        Add("cursor", cursor);
        return parts.Count == 0 ? Html.DashboardPath : $"{Html.DashboardPath}?{string.Join('&', parts)}";
    }

    private static void AppendItem(StringBuilder html, OwnerItemDto item, bool serveBeforeScan)
    {
        var id = Html.Encode(item.Id);
        var name = item.Title ?? item.Id;
        html.Append("<li class=\"dash-item\" id=\"item-").Append(id).Append("\" data-item-id=\"").Append(id).Append("\">")
            .Append("<a class=\"dash-thumb\" data-field=\"view\" href=\"").Append(Html.Encode(item.ViewUrl)).Append("\" tabindex=\"-1\" aria-hidden=\"true\">");
        if (NotShown(item, serveBeforeScan) is { } reason)
        {
            html.Append("<span class=\"dash-thumb-note\">").Append(Html.Encode(reason)).Append("</span></a>");
        }
        else
        {
            // A variant, which counts no download (the original is one click away on the view page); 10rem wide, so 320
            // pixels serve screens up to 2x and 640 the denser ones. A private item's carries its share secret.
            html.Append("<img data-field=\"image\"").Append(ImageSources.Attributes(w => SiteUrls.VariantOf(item.DirectUrl, w), ThumbnailWidths, 320, item.Width, "10rem"))
                .Append(" alt=\"").Append(Html.Encode(AltText(item))).Append('"')
                .Append(item.Width is { } width ? $" width=\"{width}\"" : "").Append(item.Height is { } height ? $" height=\"{height}\"" : "")
                .Append(ImagePlaceholders.Attribute(item.Placeholder))
                .Append(" loading=\"lazy\" decoding=\"async\"></a>");
        }

        html.Append("<div class=\"dash-body\">")
            .Append("<h3 class=\"dash-title\"><a data-field=\"view\" data-field-text=\"name\" href=\"").Append(Html.Encode(item.ViewUrl)).Append("\">")
            .Append(Html.Encode(name)).Append("</a></h3>")
            .Append("<div class=\"dash-select\"><input type=\"checkbox\" class=\"select-item\" id=\"select-").Append(id).Append("\" value=\"").Append(id).Append("\" disabled>")
            .Append("<label for=\"select-").Append(id).Append("\">Select <span data-field-text=\"name\">").Append(Html.Encode(name)).Append("</span></label></div>")
            .Append("<ul class=\"badges\" aria-label=\"State\">")
            .Append("<li class=\"badge\">Scan: ").Append(Html.Encode(item.ScanState)).Append("</li>")
            .Append("<li class=\"badge\">Classification: ").Append(Html.Encode(item.Classification)).Append("</li>")
            .Append("<li class=\"badge\" data-field-text=\"caption\">Caption: ").Append(Html.Encode(item.AiCaptionState)).Append("</li>")
            .Append("<li class=\"badge badge-private\" data-field=\"private\"").Append(item.Private ? "" : " hidden").Append(">Private</li>")
            .Append("</ul>")
            .Append("<dl class=\"dash-facts\">")
            .Append("<dt>Uploaded</dt><dd>").Append(Time(item.CreatedAt)).Append("</dd>")
            .Append("<dt>Size</dt><dd>").Append(Html.Encode(Size(item))).Append("</dd>")
            .Append("<dt>Downloads</dt><dd data-field-text=\"downloads\">").Append(Html.Encode(Downloads(item.Downloads, item.DlLimit))).Append("</dd>")
            .Append("</dl>");
        AppendEditForm(html, item);
        html.Append("<button type=\"button\" class=\"delete-item danger\" data-item-id=\"").Append(id).Append("\" disabled>Delete <span class=\"visually-hidden\" data-field-text=\"name\">")
            .Append(Html.Encode(name)).Append("</span></button>")
            .Append("</div></li>");
    }

    /// <summary>The edit form of one item, sent by the script as a PATCH; its controls stay disabled without one.</summary>
    private static void AppendEditForm(StringBuilder html, OwnerItemDto item)
    {
        var id = Html.Encode(item.Id);
        string Field(string name) => $"edit-{name}-{id}";
        html.Append("<details class=\"dash-edit\"><summary>Edit <span class=\"visually-hidden\" data-field-text=\"name\">")
            .Append(Html.Encode(item.Title ?? item.Id)).Append("</span></summary>")
            .Append("<noscript><p>Editing needs JavaScript.</p></noscript>")
            .Append("<form class=\"edit-form\" data-item-id=\"").Append(id).Append("\"><fieldset disabled>")
            .Append("<legend class=\"visually-hidden\">Edit image ").Append(id).Append("</legend>")
            .Append("<label for=\"").Append(Field("title")).Append("\">Title</label>")
            .Append("<input type=\"text\" id=\"").Append(Field("title")).Append("\" name=\"title\" value=\"").Append(Html.Encode(item.Title)).Append("\">")
            .Append("<label for=\"").Append(Field("description")).Append("\">Description</label>")
            .Append("<textarea id=\"").Append(Field("description")).Append("\" name=\"description\" rows=\"3\">").Append(Html.Encode(item.Description)).Append("</textarea>")
            .Append("<label for=\"").Append(Field("tags")).Append("\">Tags (comma-separated)</label>")
            .Append("<input type=\"text\" id=\"").Append(Field("tags")).Append("\" name=\"tags\" value=\"").Append(Html.Encode(string.Join(", ", item.Tags))).Append("\">")
            .Append("<label for=\"").Append(Field("dl_limit")).Append("\">Download limit (empty: none)</label>")
            .Append("<input type=\"text\" inputmode=\"numeric\" id=\"").Append(Field("dl_limit")).Append("\" name=\"dl_limit\" value=\"")
            .Append(item.DlLimit?.ToString(CultureInfo.InvariantCulture)).Append("\">")
            .Append("<div class=\"check\"><input type=\"checkbox\" id=\"").Append(Field("private")).Append("\" name=\"private\"").Append(item.Private ? " checked" : "").Append('>')
            .Append("<label for=\"").Append(Field("private")).Append("\">Private (making it private changes its links)</label></div>")
            .Append("<div class=\"check\"><input type=\"checkbox\" id=\"").Append(Field("ai_optout")).Append("\" name=\"ai_optout\"").Append(item.AiOptout ? " checked" : "").Append('>')
            .Append("<label for=\"").Append(Field("ai_optout")).Append("\">No AI caption</label></div>")
            .Append("<button type=\"submit\">Save</button>")
            .Append("</fieldset><p class=\"edit-status\" role=\"status\" aria-live=\"polite\"></p></form></details>");
    }

    /// <summary>The one confirmation for deleting (one image or the selected ones), a modal the keyboard can answer.</summary>
    private static void AppendConfirmDialog(StringBuilder html) =>
        html.Append("<dialog id=\"confirm-dialog\" aria-labelledby=\"confirm-title\" aria-describedby=\"confirm-text\">")
            .Append("<form method=\"dialog\"><h2 id=\"confirm-title\">Delete for good?</h2><p id=\"confirm-text\"></p>")
            .Append("<button type=\"submit\" value=\"cancel\" class=\"secondary\" autofocus>Cancel</button>")
            .Append("<button type=\"submit\" value=\"delete\" id=\"confirm-delete\" class=\"danger\">Delete</button>")
            .Append("</form></dialog>");

    /// <summary>
    /// Why the list shows no picture for an item, or null when it shows one. The direct path never reads the site's
    /// session, so in this page the owner is a visitor like any other: an image not yet checked, held, failed or withdrawn
    /// would only be a broken picture, and so would one whose download limit is reached (its variants answer gone too).
    /// The state badges say the rest.
    /// </summary>
    internal static string? NotShown(OwnerItemDto item, bool serveBeforeScan) =>
        ScanStates.IsWithdrawn(item.ScanState) ? "Removed"
        : !ScanStates.IsPublic(item.ScanState, serveBeforeScan) ? item.ScanState switch
        {
            ScanState.Held => "Held for review",
            ScanState.Failed => "Check failed, waiting for review",
            _ => "Being checked",
        }
        : item.DlLimit is { } limit && item.Downloads >= limit ? "Download limit reached"
        : null;

    /// <summary>The thumbnail's variant widths.</summary>
    private static readonly int[] ThumbnailWidths = [320, 640];

    /// <summary>The AI caption when there is one, else the title, else a plain description of what the picture is.</summary>
    private static string AltText(OwnerItemDto item) => item.AiCaption ?? item.Title ?? $"Image {item.Id}";

    private static string Time(long milliseconds)
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(milliseconds);
        return $"<time datetime=\"{at:yyyy-MM-ddTHH:mm:ssZ}\">{at.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC</time>";
    }

    private static string Size(OwnerItemDto item)
    {
        var bytes = item.SizeBytes switch
        {
            < 1024 => $"{item.SizeBytes} B",
            < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{item.SizeBytes / 1024.0:0.#} KB"),
            _ => string.Create(CultureInfo.InvariantCulture, $"{item.SizeBytes / (1024.0 * 1024):0.#} MB"),
        };
        return item.Width is { } width && item.Height is { } height ? $"{bytes}, {width} × {height}" : bytes;
    }

    internal static string Downloads(long downloads, long? limit) =>
        limit is { } max ? string.Create(CultureInfo.InvariantCulture, $"{downloads} / {max}") : downloads.ToString(CultureInfo.InvariantCulture);
}
