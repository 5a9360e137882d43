using System.Globalization;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Features.Docs;
using Imagebin.Features.Moderation;
using Imagebin.Infrastructure;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Web;

/// <summary>
/// The report form (<c>/abuse/report</c>, issue 8): a plain HTML form with an anti-forgery token that files a report
/// through <see cref="Reports"/>, the service behind <c>POST /api/v1/reports</c>. A signed-in visitor reports as their
/// account; anyone else as their address, after the form's script has solved a proof-of-work challenge of its own
/// purpose (the challenge rides in the form, so the page needs no API call). Every refusal shows the form again, filled
/// in, with what went wrong; nothing is stored then.
/// </summary>
public static class ReportPage
{
    public const string Path = "/abuse/report";
    private const string Title = "Report an image";
    private const int MaxContactLength = 254;
    private const int MaxFormBytes = 64 * 1024;

    /// <summary>What each report category means to a reader, in the order of <see cref="ReportCategories.All"/>.</summary>
    private static readonly Dictionary<string, string> CategoryLabels = new(StringComparer.Ordinal)
    {
        ["child_safety"] = "Sexual abuse or exploitation of a child",
        ["terrorism"] = "Terrorist or violent extremist content",
        ["illegal"] = "Other illegal content",
        ["sexual"] = "Sexual content",
        ["violence"] = "Violence or gore",
        ["harassment"] = "Harassment, threats or hate",
        ["privacy"] = "Private information, or an intimate image shared without consent",
        ["copyright"] = "Copyright or trademark infringement",
        ["malware"] = "Malware or phishing",
        ["spam"] = "Spam or scam",
        ["other"] = "Something else",
    };

    /// <summary>What the visitor typed, to show the form again as it was sent.</summary>
    private sealed record Fields(string Item, string Category, string Details, string Contact);

    /// <summary>Why the form was refused, and the field (its <c>name</c>) to correct, if it is one field's fault.</summary>
    private sealed record Refusal(string Message, string? Field = null);

    public static IEndpointRouteBuilder MapReportPage(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, ShowAsync).ExcludeFromDescription();
        app.MapPost(Path, SubmitAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> ShowAsync(
        HttpContext context, IAntiforgery antiforgery, PowChallenges challenges, IOptions<ModerationOptions> options, SiteUrls site,
        [FromQuery(Name = "item")] string? item, CancellationToken cancellationToken)
    {
        var account = await Sessions.CurrentAccountAsync(context);
        return await FormAsync(context, antiforgery, challenges, options.Value, site, account, new Fields(item?.Trim() ?? "", "", "", ""), refusal: null, StatusCodes.Status200OK, cancellationToken);
    }

    private static async Task<IResult> SubmitAsync(
        HttpContext context, IAntiforgery antiforgery, Reports reports, PowChallenges challenges, IOptions<ModerationOptions> options,
        SiteUrls site, CancellationToken cancellationToken)
    {
        // A report is a few kilobytes; a bigger body is refused while it is read (413 request_too_large).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = MaxFormBytes;
        }

        var settings = options.Value;
        var account = await Sessions.CurrentAccountAsync(context);
        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(cancellationToken) : null;
        var fields = new Fields(
            form?["item"].ToString().Trim() ?? "", form?["category"].ToString() ?? "", form?["details"].ToString() ?? "", form?["contact"].ToString().Trim() ?? "");
        Task<IResult> Refuse(string message, int status, string? field = null) =>
            FormAsync(context, antiforgery, challenges, settings, site, account, fields, new Refusal(message, field), status, cancellationToken);

        if (!await SignInPages.IsValidFormAsync(context, antiforgery))
        {
            return await Refuse("The form expired or came from another site. Check it and send it again.", StatusCodes.Status400BadRequest);
        }

        if (fields.Item.Length == 0)
        {
            return await Refuse("Enter the link or ID of the image you are reporting.", StatusCodes.Status400BadRequest, "item");
        }

        if (!Reports.TryParseItem(fields.Item, out _, out _))
        {
            return await Refuse("That is neither a link to an image of this site nor an image ID.", StatusCodes.Status400BadRequest, "item");
        }

        if (fields.Category.Length == 0)
        {
            return await Refuse("Choose a reason for the report.", StatusCodes.Status400BadRequest, "category");
        }

        if (fields.Contact.Length > 0 && !LooksLikeEmail(fields.Contact))
        {
            return await Refuse("The e-mail address does not look right. Correct it, or leave the field empty.", StatusCodes.Status400BadRequest, "contact");
        }

        Reporter reporter;
        if (account is not null)
        {
            reporter = Reporter.Account(account.Id);
        }
        else if (await PassChallengeAsync(form!["challenge_id"].ToString(), form["challenge_nonce"].ToString(), challenges, cancellationToken) is { } failure)
        {
            return await Refuse(failure, StatusCodes.Status403Forbidden);
        }
        else
        {
            reporter = Reporter.Address(PowApi.ClientAddress(context));
        }

        var details = fields.Details.Trim();
        if (fields.Contact.Length > 0)
        {
            // Reports have no column for it; moderators read it where they read the rest of what the reporter said.
            details = $"{details}\n\nContact: {fields.Contact}".TrimStart();
        }

        var request = new ReportRequest { Item = fields.Item, Category = fields.Category, Details = details };
        var (receipt, _, error) = await reports.FileAsync(request, reporter, cancellationToken);
        if (error is not null)
        {
            if (error.RetryAfterSeconds is { } retry)
            {
                context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
            }

            return await Refuse(Explain(error, fields), error.StatusCode, error.Code is ErrorCodes.NotFound or ErrorCodes.Gone ? "item" : null);
        }

        return Html.Page("Report sent", Confirmation(receipt!));
    }

    /// <summary>Null when the form's challenge is solved, unexpired and unused (it is then spent), else why not.</summary>
    private static async Task<string?> PassChallengeAsync(string id, string nonce, PowChallenges challenges, CancellationToken cancellationToken)
    {
        const string Unsolved = "Your browser did not finish the check that keeps robots out: it needs JavaScript. Send the form again, or sign in to report without it.";
        if (id.Length == 0 || nonce.Length == 0 || !PowChallenges.IsValidNonce(nonce))
        {
            return Unsolved;
        }

        var (challenge, failure) = await challenges.VerifyAsync(PowPurpose.Report, id, nonce, cancellationToken);
        return failure switch
        {
            PowChallenges.Failure.None when await challenges.ConsumeAsync(challenge!, cancellationToken) => null,
            PowChallenges.Failure.None => "This form was already sent once. Check it and send it again.",
            PowChallenges.Failure.Expired => "The form was open too long and its check expired. Check it and send it again.",
            _ => "The check that keeps robots out failed. Send the form again.",
        };
    }

    private static string Explain(ApiError error, Fields fields) => error.Code switch
    {
        ErrorCodes.NotFound => $"No image has the link or ID \u201c{fields.Item}\u201d. Check it; for a private image, give its whole link, with ?s=\u2026",
        ErrorCodes.Gone => "That image has already been removed or has expired: there is nothing left to report.",
        ErrorCodes.RateLimited => $"You have sent too many reports in the last hour. Try again in {Math.Max(1, (error.RetryAfterSeconds ?? 3600) / 60)} minutes.",
        _ => error.Detail ?? ErrorCodes.Title(error.Code),
    };

    /// <summary>Something@somewhere without spaces: enough to catch a slip, since nobody is written to automatically.</summary>
    private static bool LooksLikeEmail(string value) =>
        value.Length <= MaxContactLength && value.IndexOf('@') is > 0 and var at && at < value.Length - 1 && !value.Any(char.IsWhiteSpace);

    private static async Task<IResult> FormAsync(
        HttpContext context, IAntiforgery antiforgery, PowChallenges challenges, ModerationOptions options, SiteUrls site, Account? account,
        Fields fields, Refusal? refusal, int status, CancellationToken cancellationToken)
    {
        // The field at fault is marked invalid, described by the message, and focused, so a screen reader reads both.
        string Marks(string field, string? hint) => field == refusal?.Field
            ? $" aria-invalid=\"true\" aria-describedby=\"report-error{(hint is null ? "" : " " + hint)}\" autofocus"
            : hint is null ? "" : $" aria-describedby=\"{hint}\"";

        var tokens = antiforgery.GetAndStoreTokens(context);
        var choices = new System.Text.StringBuilder("<option value=\"\">Choose a reason</option>");
        foreach (var category in ReportCategories.All)
        {
            choices.Append("<option value=\"").Append(Html.Encode(category)).Append('"')
                .Append(category == fields.Category ? " selected" : "")
                .Append('>').Append(Html.Encode(CategoryLabels.GetValueOrDefault(category, category))).Append("</option>");
        }

        string identity;
        if (account is not null)
        {
            identity = $"<p>You are reporting as <strong>{Html.Encode(account.Name)}</strong>.</p>";
        }
        else
        {
            var challenge = await challenges.IssueAsync(PowPurpose.Report, options.ReportChallengeBits, TimeSpan.FromSeconds(options.ReportChallengeSeconds), cancellationToken);
            var signIn = $"{SignInPages.SignInPath}?return_url={Uri.EscapeDataString(Path)}";
            identity = $"""
                <input type="hidden" name="challenge_id" value="{Html.Encode(challenge.Id)}" data-prefix="{Html.Encode(challenge.Prefix)}" data-bits="{challenge.DifficultyBits}">
                <input type="hidden" name="challenge_nonce" value="">
                <p class="hint" id="report-check" role="status">No account needed: your browser does a small calculation to show it is not a robot, and your network address is kept with the report. Or <a href="{Html.Encode(signIn)}">sign in</a> first.</p>
                <noscript><p class="error">Without JavaScript the calculation cannot run: <a href="{Html.Encode(signIn)}">sign in</a> to send a report.</p></noscript>
                """;
        }

        var body = $"""
            <p>Tell the moderators about an image that breaks the <a href="/terms">terms</a>. What happens next is explained on the <a href="/abuse">abuse page</a>.</p>
            {(refusal is null ? "" : $"<p class=\"error\" role=\"alert\" id=\"report-error\">{Html.Encode(refusal.Message)}</p>")}
            <form method="post" action="{Path}" class="report-form" id="report-form">
            <input type="hidden" name="{tokens.FormFieldName}" value="{Html.Encode(tokens.RequestToken)}">
            <label for="report-item">Link or ID of the image</label>
            <input type="text" id="report-item" name="item" value="{Html.Encode(fields.Item)}" required maxlength="2048" autocomplete="off" spellcheck="false"{Marks("item", "report-item-hint")}>
            <p class="hint" id="report-item-hint">For example {Html.Encode(site.PublicBase)}/v/abc123 or abc123. For a private image, its whole link with ?s=…</p>
            <label for="report-category">Reason</label>
            <select id="report-category" name="category" required{Marks("category", null)}>{choices}</select>
            <label for="report-details">Details (optional)</label>
            <textarea id="report-details" name="details" rows="5" maxlength="{Reports.MaxDetails - MaxContactLength - 12}"{Marks("details", "report-details-hint")}>{Html.Encode(fields.Details)}</textarea>
            <p class="hint" id="report-details-hint">What is wrong with it; for copyright, who you are, the work, and that its use here is not authorised.</p>
            <label for="report-contact">Your e-mail address (optional)</label>
            <input type="email" id="report-contact" name="contact" value="{Html.Encode(fields.Contact)}" maxlength="{MaxContactLength}" autocomplete="email"{Marks("contact", "report-contact-hint")}>
            <p class="hint" id="report-contact-hint">Only if you want an answer; the moderators see it, nobody else.</p>
            {identity}
            <button type="submit" id="report-submit">Send report</button>
            </form>
            """;
        return Html.ScriptPage(Title, body, [SiteAssets.PathOf("pow.js"), SiteAssets.PathOf("report.js")], status);
    }

    private static string Confirmation(ReportReceiptDto receipt)
    {
        var what = receipt.Status == "already_reported"
            ? "You had already reported this image; the moderators have your first report."
            : "Thank you: the moderators have your report and will review the image.";
        return $"""
            <p role="status">{what}</p>
            <dl class="item-facts">
            <dt>Image</dt><dd><code>{Html.Encode(receipt.ItemId)}</code></dd>
            <dt>Reason</dt><dd>{Html.Encode(CategoryLabels.GetValueOrDefault(receipt.Category, receipt.Category))}</dd>
            <dt>Reference</dt><dd><code>{Html.Encode(receipt.Id)}</code></dd>
            </dl>
            <p><a href="{Path}">Report another image</a> · <a href="/abuse">What happens next</a></p>
            """;
    }
}
