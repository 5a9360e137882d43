using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Moderation;

/// <summary>
/// <c>/api/v1/admin/accounts</c>: moderators find accounts and ban or unban them; a ban refuses the account's keys and
/// ends its browser sessions at once, on both backends.
/// </summary>
public sealed class AdminAccountsApiTests
{
    /// <summary>An admin account ("moderator") and a client with its admin key.</summary>
    internal static async Task<(HttpClient Client, string AccountId)> AdminAsync(ImagebinApp app, string name = "moderator")
    {
        await using var scope = app.Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var admin = await accounts.FindByNameAsync(name, CancellationToken.None)
            ?? (await accounts.CreateAsync(name, admin: true, password: "correct horse battery", CancellationToken.None)).Account;
        var key = await scope.ServiceProvider.GetRequiredService<ApiKeys>()
            .CreateAsync(admin.Id, ["image:read", "admin"], null, null, CancellationToken.None);
        return (app.ClientWithKey(key.Token), admin.Id);
    }

    private static async Task<string> AccountIdAsync(ImagebinApp app, string name)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<AccountService>().FindByNameAsync(name, CancellationToken.None))!.Id;
    }

    private static Task<HttpResponseMessage> BanAsync(HttpClient client, string accountId, string action = "ban", string? reason = "spam uploads") =>
        client.PostAsJsonAsync($"/api/v1/admin/accounts/{accountId}/{action}", new { reason });

    [Theory, Backends]
    public async Task Ban_RefusesTheKeys_EndsTheSessions_AndUnbanRestoresTheKeys(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var (admin, adminId) = await AdminAsync(app);
        var mallory = await app.OwnerAsync("mallory");
        await mallory.UploadAsync(TestImages.Jpeg(32, 24, seed: 3));
        using var browser = await SignedInBrowser.SignInAsync(app, "mallory");
        var malloryId = await AccountIdAsync(app, "mallory");

        using (var byUser = await BanAsync(mallory, malloryId))
        {
            await byUser.AssertErrorAsync(403, "insufficient_scope");
        }

        using (var banned = await BanAsync(admin, malloryId))
        {
            Assert.Equal(HttpStatusCode.OK, banned.StatusCode);
            var account = await banned.JsonAsync();
            Assert.True(account.GetProperty("banned").GetBoolean());
            Assert.Equal("mallory", account.GetProperty("name").GetString());
            Assert.Equal(1, account.GetProperty("item_count").GetInt32());
        }

        using (var refused = await mallory.GetAsync("/api/v1/account/items"))
        {
            await refused.AssertErrorAsync(403, "account_banned");
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
            Assert.All(await db.AccountSessions.Where(s => s.AccountId == malloryId).ToListAsync(), s => Assert.NotNull(s.RevokedAt));
        }

        using (var page = await browser.Client.GetAsync("/docs"))
        {
            Assert.DoesNotContain("csrf-token", await page.Content.ReadAsStringAsync());
        }

        var audit = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit");
        var ban = audit.GetProperty("events").EnumerateArray().Single(e => e.GetProperty("action").GetString() == "account.ban");
        Assert.Equal(adminId, ban.GetProperty("actor_id").GetString());
        Assert.Contains("spam uploads", ban.GetProperty("detail").GetString());
        Assert.Contains(malloryId, ban.GetProperty("detail").GetString());

        using (var unbanned = await BanAsync(admin, malloryId, "unban", "appeal accepted"))
        {
            Assert.Equal(HttpStatusCode.OK, unbanned.StatusCode);
            Assert.False((await unbanned.JsonAsync()).GetProperty("banned").GetBoolean());
        }

        using (var restored = await mallory.GetAsync("/api/v1/account/items"))
        {
            Assert.Equal(HttpStatusCode.OK, restored.StatusCode);
        }

        audit = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit");
        Assert.Contains(audit.GetProperty("events").EnumerateArray(), e => e.GetProperty("action").GetString() == "account.unban");
    }

    [Theory, Backends]
    public async Task Ban_OfYourself_AnotherAdmin_AnUnknownAccount_OrWithoutAReason_IsRefused(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var (admin, adminId) = await AdminAsync(app);
        var (_, otherAdminId) = await AdminAsync(app, "second-moderator");
        await app.CreateKeyAsync("bob");
        var bobId = await AccountIdAsync(app, "bob");

        using (var self = await BanAsync(admin, adminId))
        {
            await self.AssertErrorAsync(400, "invalid_request");
        }

        using (var other = await BanAsync(admin, otherAdminId))
        {
            await other.AssertErrorAsync(400, "invalid_request");
        }

        using (var unknown = await BanAsync(admin, "nosuchaccount1"))
        {
            await unknown.AssertErrorAsync(404, "not_found");
        }

        using (var noReason = await BanAsync(admin, bobId, reason: " "))
        {
            await noReason.AssertErrorAsync(400, "invalid_request");
        }

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        Assert.False(await db.Accounts.AnyAsync(a => a.Banned));
        Assert.False(await db.AuditEvents.AnyAsync(e => e.Action == "account.ban"));
    }

    [Theory, Backends]
    public async Task List_FindsAccountsByName_AnyCase_WithTheirItemCounts_PageByPage(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var (admin, _) = await AdminAsync(app);
        var carol = await app.OwnerAsync("Carol");
        await carol.UploadAsync(TestImages.Jpeg(32, 24, seed: 4));
        await carol.UploadAsync(TestImages.Jpeg(32, 24, seed: 5));
        await app.CreateKeyAsync("caroline");
        await app.CreateKeyAsync("dave");

        var found = await admin.GetFromJsonAsync<JsonElement>("/api/v1/admin/accounts?q=CAROL");
        var accounts = found.GetProperty("accounts").EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!);
        Assert.Equal(["Carol", "caroline"], accounts.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(2, accounts["Carol"].GetProperty("item_count").GetInt32());
        Assert.Equal(0, accounts["caroline"].GetProperty("item_count").GetInt32());
        Assert.Equal("user", accounts["Carol"].GetProperty("role").GetString());

        // Two at a time, newest first, until the cursor runs out: every account once (the first-run "admin" too).
        var all = new List<string>();
        string? cursor = null;
        do
        {
            var page = await admin.GetFromJsonAsync<JsonElement>($"/api/v1/admin/accounts?limit=2{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            Assert.InRange(page.GetProperty("accounts").GetArrayLength(), 1, 2);
            all.AddRange(page.GetProperty("accounts").EnumerateArray().Select(a => a.GetProperty("name").GetString()!));
            cursor = page.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(["Carol", "admin", "caroline", "dave", "moderator"], all.Order(StringComparer.Ordinal));

        using var bad = await admin.GetAsync("/api/v1/admin/accounts?cursor=nonsense!");
        await bad.AssertErrorAsync(400, "invalid_request");
    }

    [Theory, Backends]
    public async Task AdminFile_ShowsAHeldItemToAdminsOnly_NeverCached(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        var (admin, _) = await AdminAsync(app);
        var owner = await app.OwnerAsync();
        var image = TestImages.Jpeg(64, 48, seed: 21);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image));
        using (var import = await admin.PostAsync("/api/v1/admin/hashes", new StringContent($"kind,hash,action,reason\nsha256,{sha},hold,check\n", System.Text.Encoding.UTF8, "text/csv")))
        {
            Assert.Equal(HttpStatusCode.OK, import.StatusCode);
        }

        var item = await owner.WaitForScanAsync((await owner.UploadAsync(image)).GetProperty("id").GetString()!);
        Assert.Equal("held", item.GetProperty("scan_state").GetString());
        var id = item.GetProperty("id").GetString()!;

        using (var file = await admin.GetAsync($"/api/v1/admin/items/{id}/file"))
        {
            Assert.Equal(HttpStatusCode.OK, file.StatusCode);
            Assert.Equal(image, await file.Content.ReadAsByteArrayAsync());
            Assert.Equal("image/jpeg", file.Content.Headers.ContentType!.MediaType);
            file.AssertNotCacheable();
        }

        using (var byOwner = await owner.GetAsync($"/api/v1/admin/items/{id}/file"))
        {
            await byOwner.AssertErrorAsync(403, "insufficient_scope");
        }

        using (var anonymous = await app.Anonymous().GetAsync($"/api/v1/admin/items/{id}/file"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using var unknown = await admin.GetAsync("/api/v1/admin/items/nosuchitem1/file");
        await unknown.AssertErrorAsync(404, "not_found");
    }
}
