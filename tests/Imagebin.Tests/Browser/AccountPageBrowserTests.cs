using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Imagebin.Tests.Support;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// The account page in Debian's Chromium: a key made, shown once, copied, used and revoked; the AI caption default
/// saved; the ShareX uploader downloaded as a file.
/// </summary>
public sealed class AccountPageBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static async Task<HttpStatusCode> UploadWithAsync(SignedInOwner owner, string key)
    {
        using var http = new HttpClient { BaseAddress = new Uri(owner.BaseUrl) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Jpeg(seed: Random.Shared.Next())) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Key_IsShownOnce_Copied_Works_AndStopsWorkingWhenRevoked()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        await owner.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new() { Origin = owner.BaseUrl });
        var page = await owner.OpenAsync("/account");

        await page.GetByLabel("image:delete — delete your images").CheckAsync();
        await page.GetByLabel("Expires").SelectOptionAsync("2592000");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var field = page.GetByLabel("Your new key");
        await field.WaitForAsync();
        var key = await field.InputValueAsync();
        Assert.StartsWith("pbca_live_", key);
        Assert.False(await field.IsEditableAsync());
        Assert.Contains("shown only this once", await page.Locator("#new-key").TextContentAsync());

        await page.GetByRole(AriaRole.Button, new() { Name = "Copy", Exact = true }).ClickAsync();
        await page.Locator("#copy-status", new() { HasText = "Copied." }).WaitForAsync();
        Assert.Equal(key, await page.EvaluateAsync<string>("() => navigator.clipboard.readText()"));

        Assert.Equal(HttpStatusCode.Created, await UploadWithAsync(owner, key));
        var keyId = key["pbca_live_".Length..].Split('_')[0];
        var listed = (await owner.Api.GetFromJsonAsync<JsonElement>("/api/v1/account/keys")).GetProperty("keys").EnumerateArray()
            .Single(k => k.GetProperty("id").GetString() == keyId);
        Assert.Equal(["image:create", "image:read", "image:delete"], listed.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.True(listed.GetProperty("expires_at").GetInt64() > DateTimeOffset.UtcNow.AddDays(29).ToUnixTimeMilliseconds());

        // Shown once: the page seen again lists the key but not its secret.
        await page.ReloadAsync();
        var row = page.Locator($"tr[data-key-id=\"{keyId}\"]");
        await row.WaitForAsync();
        Assert.DoesNotContain(key, await page.ContentAsync());

        await row.GetByRole(AriaRole.Button).ClickAsync();
        await page.Locator("#confirm-dialog").GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await page.Locator("#keys-status", new() { HasText = "revoked" }).WaitForAsync();
        Assert.Equal("revoked", (await row.Locator(".key-state").TextContentAsync())?.Trim());
        Assert.Equal(HttpStatusCode.Unauthorized, await UploadWithAsync(owner, key));
        owner.Problems.AssertNone();
    }

    [Fact]
    public async Task NewKey_ForMcp_WithoutScopes_ShowsTheApisMessage()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var page = await owner.OpenAsync("/account");

        await page.GetByLabel("image:create — upload, edit, manage keys").UncheckAsync();
        await page.GetByLabel("image:read — list and read your images").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await page.Locator("#create-status.error", new() { HasText = "'scopes' is required" }).WaitForAsync();
        Assert.True(await page.Locator("#new-key").IsHiddenAsync());

        await page.GetByLabel("image:read — list and read your images").CheckAsync();
        await page.Locator("#audience-mcp").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        await page.GetByLabel("Your new key").WaitForAsync();
        var keys = (await owner.Api.GetFromJsonAsync<JsonElement>("/api/v1/account/keys")).GetProperty("keys").EnumerateArray().ToList();
        Assert.Contains(keys, k => k.GetProperty("audience").GetString() == $"{owner.BaseUrl}/mcp");
        owner.Problems.AssertNone(failedRequestTo: "/api/v1/", status: 400);
    }

    [Fact]
    public async Task AiOptOut_Default_IsSaved_AndShownAgain()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var page = await owner.OpenAsync("/account");

        await page.Locator("#ai-optout").CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
        await page.Locator("#settings-status", new() { HasText = "Saved." }).WaitForAsync();

        Assert.True((await owner.Api.GetFromJsonAsync<JsonElement>("/api/v1/account")).GetProperty("ai_optout").GetBoolean());
        await page.ReloadAsync();
        Assert.True(await page.Locator("#ai-optout").IsCheckedAsync());

        await page.Locator("#ai-optout").UncheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Save settings" }).ClickAsync();
        await page.Locator("#settings-status", new() { HasText = "Saved." }).WaitForAsync();
        Assert.False((await owner.Api.GetFromJsonAsync<JsonElement>("/api/v1/account")).GetProperty("ai_optout").GetBoolean());
        owner.Problems.AssertNone();
    }

    [Fact]
    public async Task ShareX_DownloadsAnUploaderFile_WhoseKeyUploads()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium);
        var page = await owner.OpenAsync("/account");

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Download the ShareX uploader" }).ClickAsync());

        Assert.Equal("imagebin-127.0.0.1.sxcu", download.SuggestedFilename);
        var uploader = JsonDocument.Parse(await File.ReadAllTextAsync((await download.PathAsync())!)).RootElement;
        Assert.Equal($"{owner.BaseUrl}/api/v1/items", uploader.GetProperty("RequestURL").GetString());
        var key = uploader.GetProperty("Headers").GetProperty("Authorization").GetString()!["Bearer ".Length..];
        Assert.Equal(HttpStatusCode.Created, await UploadWithAsync(owner, key));
        owner.Problems.AssertNone();
    }

    [Fact]
    public async Task Account_LoadsCleanly_AndFitsA360PixelPhone()
    {
        await using var owner = await SignedInOwner.StartAsync(chromium, width: 360, height: 740);
        await owner.Api.PostAsJsonAsync("/api/v1/account/keys", new { scopes = new[] { "image:read" } });
        var page = await owner.OpenAsync("/account");
        await page.Locator("tr[data-key-id]").First.WaitForAsync();

        var (scrollWidth, clientWidth) = (
            await page.EvaluateAsync<int>("document.documentElement.scrollWidth"),
            await page.EvaluateAsync<int>("document.documentElement.clientWidth"));
        Assert.True(scrollWidth <= clientWidth, $"/account is {scrollWidth} px wide in a {clientWidth} px viewport");
        owner.Problems.AssertNone();
    }
}
