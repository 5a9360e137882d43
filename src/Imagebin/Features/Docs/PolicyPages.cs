using Imagebin.Features.Authority;
using Imagebin.Features.Web;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Docs;

/// <summary>
/// <c>/privacy</c>, <c>/terms</c> and <c>/abuse</c>: default texts naming the operator from <see cref="SiteOptions"/>, or the
/// operator's own file in their place.
/// </summary>
public static class PolicyPages
{
    public static WebApplicationBuilder AddSitePolicies(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SiteOptions>().BindConfiguration(SiteOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    public static IEndpointRouteBuilder MapPolicyPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/privacy", (SiteUrls site, IOptions<SiteOptions> options) =>
            Html.PublicPage("Privacy", options.Value.PrivacyFile is { } file ? PolicyText.FromFile(file) : Privacy(site, options.Value))).ExcludeFromDescription();
        app.MapGet("/terms", (SiteUrls site, IOptions<SiteOptions> options) =>
            Html.PublicPage("Terms of use", options.Value.TermsFile is { } file ? PolicyText.FromFile(file) : Terms(site, options.Value))).ExcludeFromDescription();
        app.MapGet("/abuse", (SiteUrls site, IOptions<SiteOptions> options) =>
            Html.PublicPage("Abuse and reporting", options.Value.AbuseFile is { } file ? ReportFormLink + PolicyText.FromFile(file) : Abuse(site, options.Value))).ExcludeFromDescription();
        return app;
    }

    /// <summary>Above an operator's own abuse text, which cannot know the form's address.</summary>
    private const string ReportFormLink = $"<p><a href=\"{ReportPage.Path}\">Report an image</a> with the form (no account needed).</p>";

    private static string Mail(string? address, string otherwise) =>
        address is null ? otherwise : $"<a href=\"mailto:{Html.Encode(address)}\">{Html.Encode(address)}</a>";

    private static string Privacy(SiteUrls site, SiteOptions options)
    {
        var contact = Mail(options.ContactEmail, "the address the operator publishes");
        return $"""
            <p>This site ({Html.Encode(site.PublicBase)}) is run by {Html.Encode(options.OperatorName)}, who decides what is done with the
            data described here. Questions and requests about your data: {contact}.</p>
            <h2>What is kept</h2>
            <ul>
            <li><strong>Images</strong> you upload, with the title, description and tags you give them. GPS position, camera details and
            other metadata are removed from the file before it is stored; the original file is not kept.</li>
            <li><strong>Your account</strong>, if you have one: its name, an e-mail address if you gave one, a hash of your password (never
            the password), hashes of your API keys (never the keys), and your settings.</li>
            <li><strong>Counts and states</strong>: how often an image was downloaded, its moderation result, and its AI caption and tags
            unless you opted out.</li>
            <li><strong>Network addresses</strong>, briefly, to limit the rate of sign-ups, sign-ins and reports; and in reports you
            file, so moderators can act on abuse of the reporting itself.</li>
            </ul>
            <h2>Cookies</h2>
            <p>Only what signing in needs: a session cookie and an anti-forgery cookie. No advertising or analytics cookies, no
            third-party scripts. The direct image links set and read no cookies.</p>
            <h2>Processing</h2>
            <p>Every image is scanned automatically (known-abuse hash lists, a nudity classifier, and a malware scanner when
            configured) on this site's servers. Captions and tags are made on this site's servers by default; if the operator
            connects an external vision model, a reduced copy of your image without metadata is sent to it. You can opt out of
            captions per image or for your account.</p>
            <h2>How long</h2>
            <p>Images are kept until you delete them or they expire. A deleted image stops being served at once and its file is
            deleted when no other image uses the same bytes, except where a moderator removed it for a serious category, when
            evidence is kept as the law requires. Accounts are kept until deleted.</p>
            <h2>Your rights</h2>
            <p>You can see, edit and delete your images and settings yourself. For a copy of your data, corrections or deleting your
            account, write to {contact}.</p>
            """;
    }

    private static string Terms(SiteUrls site, SiteOptions options)
    {
        var law = options.Jurisdiction is { } jurisdiction
            ? $"These terms are governed by the law of {Html.Encode(jurisdiction)}, whose courts decide any dispute about them."
            : "These terms are governed by the law of the place where the operator is established.";
        return $"""
            <p>These terms apply to using {Html.Encode(site.PublicBase)}, run by {Html.Encode(options.OperatorName)}. By uploading or
            using the API you accept them.</p>
            <h2>Your content</h2>
            <p>You keep the rights to what you upload. You allow the operator to store it, make copies and smaller versions of it, and
            show it to the people you share it with (everyone, for public images), for as long as it is hosted here. Upload only what
            you have the right to share.</p>
            <h2>Not allowed</h2>
            <ul>
            <li>Anything illegal where you are or where this site is run, above all sexual content involving minors, which is reported to the authorities.</li>
            <li>Content that infringes others' copyright or privacy, including intimate images shared without consent.</li>
            <li>Malware, phishing, spam, harassment, or content that promotes terrorism or violence.</li>
            <li>Attempts to overload, scrape in bulk, or get around the site's limits and protections.</li>
            </ul>
            <p>The operator may remove content and suspend accounts that break these terms; see <a href="/abuse">abuse and reporting</a>.</p>
            <h2>The service</h2>
            <p>The site is provided as it is, without warranty. Keep your own copies of what matters to you: images can expire, hit a
            download limit, or be removed. The operator may change the limits and these terms; the version here is the one in force.</p>
            <h2>Law</h2>
            <p>{law}</p>
            """;
    }

    private static string Abuse(SiteUrls site, SiteOptions options)
    {
        var mail = Mail(options.AbuseAddress, "");
        const string report = """{"item":"LINK_OR_ID","category":"copyright","details":"…"}""";
        var byMail = options.AbuseAddress is null ? "" : $"<p>You can also write to {mail} with the image's link and what is wrong with it.</p>";
        return $"""
            <p>{Html.Encode(options.OperatorName)} does not allow illegal or abusive content on {Html.Encode(site.PublicBase)} (see the
            <a href="/terms">terms</a>). To report an image, <a href="{ReportPage.Path}">fill in the report form</a>: no account is
            needed. With an API key, send its link or id and a category:</p>
            <pre>curl -sS -X POST {Html.Encode(site.PublicBase)}/api/v1/reports -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
              -d '{Html.Encode(report)}'</pre>
            <p>Categories: <code>child_safety</code>, <code>terrorism</code>, <code>illegal</code>, <code>sexual</code>,
            <code>violence</code>, <code>harassment</code>, <code>privacy</code>, <code>copyright</code>, <code>malware</code>,
            <code>spam</code>, <code>other</code>.</p>
            {byMail}
            <h2>What happens next</h2>
            <ul>
            <li>Every report puts the image in the moderators' review queue; an image reported by several people is hidden until it is reviewed.</li>
            <li>A moderator approves the image or removes it with a reason. A removed image answers "gone" everywhere at once, and its
            fingerprints join the site's block list, so the same picture cannot be uploaded again.</li>
            <li>Child sexual abuse material and terrorist content are preserved as evidence and reported to the competent authorities.</li>
            <li>Accounts that upload such content are banned.</li>
            </ul>
            <p>Copyright holders: include who you are, the work, and a statement that the use is not authorised.</p>
            """;
    }
}
