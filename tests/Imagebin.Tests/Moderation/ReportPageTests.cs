using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Authority;
using Imagebin.Features.Web;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// The report form <c>/abuse/report</c> over HTTP: a plain form post with an anti-forgery token, filed through the same
/// service as <c>POST /api/v1/reports</c>, by a signed-in account or, after the proof-of-work challenge, by address;
/// every refusal says what went wrong and stores nothing.
/// </summary>
public sealed partial class ReportPageTests
{
    [Fact]
    public async Task ReportPage_IsNoindexNoStoreHtml_UnderTheScriptPolicy_PrefilledFromTheQuery()
    {
        await using var app = new ImagebinApp();
        using var response = await app.Anonymous().GetAsync("/abuse/report?item=abcdefghij12");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal(Html.ScriptContentSecurityPolicy, response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains("<title>Report an image · Imagebin</title>", html);
        Assert.Contains("<form method=\"post\" action=\"/abuse/report\"", html);
        Assert.Contains("id=\"report-item\" name=\"item\" value=\"abcdefghij12\"", html);
        foreach (var field in new[] { "report-item", "report-category", "report-details", "report-contact" })
        {
            Assert.Contains($"<label for=\"{field}\">", html);
        }

        // Every category the API accepts is a choice, after an empty one that "required" refuses.
        foreach (var category in Features.Moderation.ReportCategories.All)
        {
            Assert.Contains($"<option value=\"{category}\">", html);
        }

        Assert.Contains("<option value=\"\">Choose a reason</option>", html);
        Assert.Equal([$"<script src=\"{SiteAssets.PathOf("pow.js")}\" defer></script>", $"<script src=\"{SiteAssets.PathOf("report.js")}\" defer></script>"], ScriptElement().Matches(html).Select(m => m.Value));
        Assert.DoesNotMatch(@"\son[a-z]+=", html);
        var (_, challengeId, _, bits) = ReadForm(html);
        Assert.NotEmpty(challengeId);
        Assert.Equal(16, bits);

        using var script = await app.Anonymous().GetAsync(SiteAssets.PathOf("report.js"));
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task AbusePage_AndViewPage_LinkToTheForm()
    {
        await using var app = new ImagebinApp();
        var abuse = await app.Anonymous().GetStringAsync("/abuse");
        Assert.Contains("href=\"/abuse/report\"", abuse);

        var owner = await app.OwnerAsync();
        var item = await owner.UploadAsync(TestImages.Png(32, 32, seed: 3), "image/png", r => r.Headers.Add("x-private", "true"));
        var view = await app.Anonymous().GetStringAsync(item.PathOf("view_url"));
        // A private image is found only with its secret: the report link carries its whole share link.
        Assert.Contains($"href=\"/abuse/report?item={Uri.EscapeDataString(item.GetProperty("url").GetString()!)}\"", view);
    }

    [Fact]
    public async Task Anonymous_WithTheChallengeSolved_FilesAReportByAddress_AndSeesAConfirmation()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);
        var visitor = app.Anonymous();

        using var response = await SubmitAsync(visitor, $"{ImagebinApp.BaseUrl}/v/{id}", "spam", "Advertising.", "me@example.com");
        var html = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("<title>Report sent · Imagebin</title>", html);
        Assert.Contains("the moderators have your report", html);
        var report = Assert.Single(await ReportsAsync(app));
        Assert.Equal(id, report.ItemId);
        Assert.Equal("spam", report.Category);
        Assert.StartsWith("address:", report.Reporter);
        Assert.Null(report.ReporterAccountId);
        Assert.Equal("Advertising.\n\nContact: me@example.com", report.Details);
        Assert.Contains($"<code>{report.Id}</code>", html);

        // The same visitor again counts once, and is told so.
        using var again = await SubmitAsync(visitor, id, "other");
        Assert.Contains("You had already reported this image", await again.Content.ReadAsStringAsync());
        Assert.Single(await ReportsAsync(app));
    }

    [Fact]
    public async Task SignedIn_ReportsAsTheAccount_WithoutAChallenge()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);
        var visitor = app.Anonymous();
        await SignInAsync(app, visitor, "reporter-rita");

        var form = await visitor.GetStringAsync($"/abuse/report?item={id}");
        Assert.Contains("You are reporting as <strong>reporter-rita</strong>", form);
        Assert.DoesNotContain("challenge_id", form);

        using var response = await visitor.PostAsync("/abuse/report", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = ReadForm(form).Csrf, ["item"] = id, ["category"] = "copyright", ["details"] = "My photo.",
        }));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());

        var report = Assert.Single(await ReportsAsync(app));
        await using var scope = app.Services.CreateAsyncScope();
        var account = await scope.ServiceProvider.GetRequiredService<AccountService>().FindByNameAsync("reporter-rita", CancellationToken.None);
        Assert.Equal(account!.Id, report.ReporterAccountId);
        Assert.Equal($"account:{account.Id}", report.Reporter);
    }

    [Fact]
    public async Task WrongCsrfToken_Is400_WithAClearMessage_AndStoresNothing()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);

        using var response = await SubmitAsync(app.Anonymous(), id, "spam", csrf: "CfDJ8-not-the-token");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The form expired or came from another site.", html);
        // The form comes back as it was sent, with a fresh token.
        Assert.Contains($"name=\"item\" value=\"{id}\"", html);
        Assert.Contains("<option value=\"spam\" selected>", html);
        Assert.NotEqual("CfDJ8-not-the-token", ReadForm(html).Csrf);
        Assert.Empty(await ReportsAsync(app));
    }

    [Fact]
    public async Task NoCsrfCookie_Is400_AndStoresNothing()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);
        var html = await app.Anonymous().GetStringAsync("/abuse/report");
        var (csrf, challengeId, prefix, bits) = ReadForm(html);

        // Another browser (no anti-forgery cookie) posting a token it saw: a cross-site forgery.
        using var response = await app.Anonymous().PostAsync("/abuse/report", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = csrf, ["item"] = id, ["category"] = "spam", ["challenge_id"] = challengeId, ["challenge_nonce"] = Solve(prefix, bits),
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The form expired or came from another site.", await response.Content.ReadAsStringAsync());
        Assert.Empty(await ReportsAsync(app));
    }

    [Theory]
    [InlineData("zzzzzzzzzzzz", "spam", 404, "No image has the link or ID", "<input type=\"text\" id=\"report-item\"")]
    [InlineData("not an id!", "spam", 400, "neither a link to an image of this site nor an image ID", "<input type=\"text\" id=\"report-item\"")]
    [InlineData("", "spam", 400, "Enter the link or ID of the image", "<input type=\"text\" id=\"report-item\"")]
    [InlineData("ITEM", "", 400, "Choose a reason for the report.", "<select id=\"report-category\"")]
    [InlineData("ITEM", "bogus", 400, "&#x27;category&#x27; must be one of", null)]
    public async Task BadInput_IsRefusedWithAClearMessage_AndStoresNothing(string item, string category, int status, string message, string? invalidField)
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);

        using var response = await SubmitAsync(app.Anonymous(), item.Replace("ITEM", id, StringComparison.Ordinal), category);
        var html = await response.Content.ReadAsStringAsync();

        Assert.True((int)response.StatusCode == status, $"{(int)response.StatusCode}: {html}");
        Assert.Contains("class=\"error\" role=\"alert\"", html);
        Assert.Contains(message, html);
        // The field at fault, and only it, is marked, described by the message and focused.
        var marked = InvalidField().Matches(html).Select(m => m.Value).ToList();
        if (invalidField is null)
        {
            Assert.Empty(marked);
        }
        else
        {
            Assert.StartsWith(invalidField, Assert.Single(marked));
            Assert.Contains("aria-describedby=\"report-error", marked[0]);
        }

        Assert.Empty(await ReportsAsync(app));
    }

    [Fact]
    public async Task BadContactAddress_Is400_AndStoresNothing()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);

        using var response = await SubmitAsync(app.Anonymous(), id, "spam", contact: "not an address");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("The e-mail address does not look right.", await response.Content.ReadAsStringAsync());
        Assert.Empty(await ReportsAsync(app));
    }

    [Fact]
    public async Task RemovedImage_Is410_AndStoresNothing()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
            var moderator = (await accounts.CreateAsync("moderator", admin: true, password: "correct horse battery", CancellationToken.None)).Account;
            var key = await scope.ServiceProvider.GetRequiredService<ApiKeys>().CreateAsync(moderator.Id, ["image:read", "admin"], null, null, CancellationToken.None);
            using var removed = await app.ClientWithKey(key.Token).PostAsJsonAsync($"/api/v1/admin/reviews/{id}", new { decision = "remove", reason = "spam", category = "spam" });
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        }

        using var response = await SubmitAsync(app.Anonymous(), id, "spam");

        Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
        Assert.Contains("That image has already been removed or has expired", await response.Content.ReadAsStringAsync());
        Assert.Empty(await ReportsAsync(app));
    }

    [Theory]
    [InlineData("", "Your browser did not finish the check")]
    [InlineData("wrong", "The check that keeps robots out failed.")]
    public async Task UnsolvedChallenge_Is403_AndStoresNothing(string nonce, string message)
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);

        using var response = await SubmitAsync(app.Anonymous(), id, "spam", nonce: nonce);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains(message, await response.Content.ReadAsStringAsync());
        Assert.Empty(await ReportsAsync(app));
    }

    [Fact]
    public async Task ChallengeOfAnotherPurpose_Is403()
    {
        await using var app = new ImagebinApp();
        var id = await UploadPublicAsync(app);
        var visitor = app.Anonymous();
        var csrf = ReadForm(await visitor.GetStringAsync("/abuse/report")).Csrf;
        var upload = await visitor.GetFromJsonAsync<JsonElement>("/api/v1/uploads/challenge");

        using var response = await visitor.PostAsync("/abuse/report", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = csrf, ["item"] = id, ["category"] = "spam",
            ["challenge_id"] = upload.GetProperty("challenge_id").GetString()!, ["challenge_nonce"] = PowSolver.Solve(upload),
        }));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(await ReportsAsync(app));
    }

    [Fact]
    public async Task UsedChallenge_Is403_AndStoresNothingMore()
    {
        await using var app = new ImagebinApp();
        var first = await UploadPublicAsync(app, seed: 1);
        var second = await UploadPublicAsync(app, seed: 2);
        var visitor = app.Anonymous();
        var (csrf, challengeId, prefix, bits) = ReadForm(await visitor.GetStringAsync("/abuse/report"));
        var nonce = Solve(prefix, bits);
        FormUrlEncodedContent Form(string item) => new(new Dictionary<string, string>
        {
            ["csrf"] = csrf, ["item"] = item, ["category"] = "spam", ["challenge_id"] = challengeId, ["challenge_nonce"] = nonce,
        });

        using (var sent = await visitor.PostAsync("/abuse/report", Form(first)))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        using var replayed = await visitor.PostAsync("/abuse/report", Form(second));

        Assert.Equal(HttpStatusCode.Forbidden, replayed.StatusCode);
        Assert.Contains("This form was already sent once.", await replayed.Content.ReadAsStringAsync());
        Assert.Equal([first], (await ReportsAsync(app)).Select(r => r.ItemId));
    }

    [Fact]
    public async Task TooManyReports_Is429_WithRetryAfter_AndStoresNothing()
    {
        await using var app = new ImagebinApp(settings: new() { ["Moderation:ReportsPerHour"] = "1" });
        var first = await UploadPublicAsync(app, seed: 1);
        var second = await UploadPublicAsync(app, seed: 2);
        var visitor = app.Anonymous();
        using (var sent = await SubmitAsync(visitor, first, "spam"))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        using var response = await SubmitAsync(visitor, second, "spam");

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        Assert.Contains("You have sent too many reports in the last hour.", await response.Content.ReadAsStringAsync());
        Assert.Equal([first], (await ReportsAsync(app)).Select(r => r.ItemId));
    }

    [Fact]
    public async Task OversizedForm_Is413_RequestTooLarge()
    {
        // Kestrel, not the in-memory server: the body size limit is a feature of a real connection.
        await using var site = Browser.LiveSite.Start();
        using var client = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };

        using var response = await client.PostAsync("/abuse/report", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["item"] = "abcdefghij12", ["category"] = "spam", ["details"] = new string('x', 100_000),
        }));

        await response.AssertErrorAsync(413, "request_too_large");
        Assert.Empty(await ReportsAsync(site.App));
    }

    /// <summary>Loads the form in <paramref name="visitor"/> (for its cookie, token and challenge) and sends it.</summary>
    internal static async Task<HttpResponseMessage> SubmitAsync(
        HttpClient visitor, string item, string category, string details = "", string contact = "", string? csrf = null, string? nonce = null)
    {
        var form = ReadForm(await visitor.GetStringAsync("/abuse/report"));
        return await visitor.PostAsync("/abuse/report", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = csrf ?? form.Csrf,
            ["item"] = item,
            ["category"] = category,
            ["details"] = details,
            ["contact"] = contact,
            ["challenge_id"] = form.ChallengeId,
            ["challenge_nonce"] = nonce ?? Solve(form.Prefix, form.Bits),
        }));
    }

    internal static async Task<string> UploadPublicAsync(ImagebinApp app, int seed = 5)
    {
        var owner = await app.OwnerAsync("owner-olga");
        var id = (await owner.UploadAsync(TestImages.Png(40, 30, seed: seed), "image/png")).GetProperty("id").GetString()!;
        Assert.Equal("passed", (await owner.WaitForScanAsync(id)).GetProperty("scan_state").GetString());
        return id;
    }

    private static async Task<List<Report>> ReportsAsync(ImagebinApp app)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Reports.AsNoTracking().ToListAsync();
    }

    private static async Task SignInAsync(ImagebinApp app, HttpClient visitor, string name)
    {
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync(name, admin: false, "a long enough password", CancellationToken.None);
        }

        var csrf = ReadForm(await visitor.GetStringAsync("/account/signin")).Csrf;
        using var response = await visitor.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = csrf, ["name"] = name, ["password"] = "a long enough password", ["return_url"] = "/",
        }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    private static (string Csrf, string ChallengeId, string Prefix, int Bits) ReadForm(string html)
    {
        var csrf = CsrfField().Match(html);
        Assert.True(csrf.Success, html);
        var challenge = ChallengeField().Match(html);
        return (csrf.Groups[1].Value, challenge.Groups[1].Value, challenge.Groups[2].Value, challenge.Success ? int.Parse(challenge.Groups[3].Value) : 0);
    }

    private static string Solve(string prefix, int bits)
    {
        for (var i = 0; ; i++)
        {
            var nonce = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (PowSolver.Work(prefix, nonce) >= bits)
            {
                return nonce;
            }
        }
    }

    [GeneratedRegex("name=\"csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    [GeneratedRegex("name=\"challenge_id\" value=\"([^\"]+)\" data-prefix=\"([^\"]+)\" data-bits=\"(\\d+)\"")]
    private static partial Regex ChallengeField();

    [GeneratedRegex("<(input|select|textarea) [^>]*aria-invalid=\"true\"[^>]*>")]
    private static partial Regex InvalidField();

    [GeneratedRegex("<script[^>]*>[^<]*</script>")]
    private static partial Regex ScriptElement();
}
