using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Imagebin.Tests.Moderation;
using Imagebin.Tests.Support;

namespace Imagebin.Tests.Web;

/// <summary>
/// The admin pages in-process: they exist for admins only (404 for everyone else, the sign-in page for the signed-out),
/// and show the queue with its evidence and the reports, with every user-supplied text encoded.
/// </summary>
public sealed class AdminPagesTests
{
    private static readonly string[] Pages = ["/admin", "/admin/reports", "/admin/hashes", "/admin/accounts", "/admin/items/abcdefghij12"];

    [Fact]
    public async Task AdminPages_SendTheSignedOutToSignIn_AndAreNotFoundForOthers()
    {
        await using var app = new ImagebinApp();
        using var user = await SignedInBrowser.SignInAsync(app, "alice");
        var anonymous = app.Anonymous();
        using var unknown = await user.Client.GetAsync("/admin/nothing-here");
        var unknownBody = await unknown.Content.ReadAsStringAsync();
        foreach (var path in Pages)
        {
            using var signedOut = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.Redirect, signedOut.StatusCode);
            Assert.Equal($"/account/signin?return_url={Uri.EscapeDataString(path)}", signedOut.Headers.Location!.OriginalString);

            using var notAdmin = await user.Client.GetAsync(path);
            await notAdmin.AssertErrorAsync(404, "not_found");
            Assert.Equal(unknown.Content.Headers.ContentType, notAdmin.Content.Headers.ContentType);
            Assert.DoesNotContain("admin", (await notAdmin.Content.ReadAsStringAsync()).Replace(path, ""), StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.DoesNotContain("Admin", unknownBody);
        var docs = await user.ReadPageAsync("/docs");
        Assert.DoesNotContain("href=\"/admin\"", docs);
    }

    [Fact]
    public async Task ReviewQueue_ShowsHeldAndReportedItems_WithTheirEvidence_AllTextEncoded()
    {
        await using var app = new ImagebinApp();
        var (adminKey, _) = await AdminAccountsApiTests.AdminAsync(app);
        var owner = await app.OwnerAsync("alice");
        var reporter = await app.OwnerAsync("bob");
        var held = TestImages.Jpeg(64, 48, seed: 31);
        var csv = $"kind,hash,action,reason\nsha256,{Convert.ToHexStringLower(SHA256.HashData(held))},hold,\"<b>spam</b> wave\"\n";
        using (var import = await adminKey.PostAsync("/api/v1/admin/hashes", new StringContent(csv, Encoding.UTF8, "text/csv")))
        {
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
        }

        var heldId = (await owner.UploadAsync(held)).GetProperty("id").GetString()!;
        var reportedId = (await owner.UploadAsync(TestImages.Jpeg(64, 48, seed: 32))).GetProperty("id").GetString()!;
        await owner.WaitForScanAsync(heldId);
        await owner.WaitForScanAsync(reportedId);
        using (var titled = await owner.PatchAsJsonAsync($"/api/v1/items/{reportedId}", new { title = "<script>alert(1)</script> cats" }))
        {
            Assert.Equal(HttpStatusCode.OK, titled.StatusCode);
        }

        using (var report = await reporter.PostAsJsonAsync("/api/v1/reports", new { item = reportedId, category = "spam", details = "<img src=x onerror=alert(2)> not cats" }))
        {
            Assert.Equal(HttpStatusCode.Created, report.StatusCode);
        }

        using var admin = await SignedInBrowser.SignInAsync(app, "moderator");
        var queue = await admin.ReadPageAsync("/admin");

        Assert.Contains($"id=\"item-{heldId}\"", queue);
        Assert.Contains($"id=\"item-{reportedId}\"", queue);
        Assert.True(queue.IndexOf($"item-{heldId}", StringComparison.Ordinal) < queue.IndexOf($"item-{reportedId}", StringComparison.Ordinal), "held items come first");
        Assert.Contains($"src=\"/api/v1/admin/items/{heldId}/file?w=320\"", queue);
        Assert.Contains("Hash lists", queue);
        Assert.Contains("&lt;b&gt;spam&lt;/b&gt; wave", queue);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; cats", queue);
        Assert.Contains("&lt;img src=x onerror=alert(2)&gt; not cats", queue);
        Assert.DoesNotContain("<script>alert", queue);
        Assert.DoesNotContain("<img src=x", queue);
        Assert.DoesNotContain("<b>spam", queue);
        Assert.Contains("Reports (1)", queue);
        Assert.Contains($"data-item-id=\"{heldId}\"", queue);
        Assert.Contains("aria-current=\"page\">Review queue", queue);

        var reports = await admin.ReadPageAsync("/admin/reports");
        Assert.Contains($"href=\"/admin/items/{reportedId}\"", reports);
        Assert.Contains("&lt;img src=x onerror=alert(2)&gt; not cats", reports);
        Assert.Contains(">bob<", reports);
        Assert.Contains(">open<", reports);
        Assert.DoesNotContain("<img src=x", reports);

        var single = await admin.ReadPageAsync($"/admin/items/{reportedId}");
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; cats", single);
        Assert.DoesNotContain("<script>alert", single);

        var hashes = await admin.ReadPageAsync("/admin/hashes");
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(held)), hashes);
        Assert.Contains("&lt;b&gt;spam&lt;/b&gt; wave", hashes);

        var accounts = await admin.ReadPageAsync("/admin/accounts?q=ALI");
        Assert.Contains(">alice<", accounts);
        Assert.DoesNotContain(">bob<", accounts);
        Assert.Contains("class=\"ban-form\"", accounts);
    }
}
