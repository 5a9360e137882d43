using System.Net;
using Imagebin.Data;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests.Web;

/// <summary>
/// The view page explains an unchecked, held or removed image to its owner (signed in on the site) and tells everyone else
/// only what they may know: the same "being checked" sentence for every unchecked state, and "gone" for a removed image.
/// </summary>
public sealed class ViewPageStateTests
{
    private static async Task<string> UploadInStateAsync(ImagebinApp app, string state, string? reason = null)
    {
        using var alice = await app.OwnerAsync("alice");
        var id = (await alice.UploadAsync(TestImages.Jpeg(seed: Random.Shared.Next()))).GetProperty("id").GetString()!;
        await alice.WaitForScanAsync(id);
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ImagebinDb>().Items.Where(i => i.Id == id)
            .ExecuteUpdateAsync(set => set.SetProperty(i => i.ScanState, state).SetProperty(i => i.ScanReason, reason));
        return id;
    }

    [Theory]
    [InlineData(ScanState.Held, "held for review")]
    [InlineData(ScanState.Pending, "being checked")]
    [InlineData(ScanState.Failed, "failed")]
    public async Task UncheckedImage_IsExplainedToItsOwner_AndNeutralToOthers(string state, string ownerSees)
    {
        await using var app = new ImagebinApp();
        var id = await UploadInStateAsync(app, state);
        using var owner = await SignedInBrowser.SignInAsync(app, "alice");

        using var ownerPage = await owner.Client.GetAsync($"/v/{id}");
        using var otherPage = await app.Anonymous().GetAsync($"/v/{id}");
        var ownerHtml = await ownerPage.Content.ReadAsStringAsync();
        var otherHtml = await otherPage.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, ownerPage.StatusCode);
        Assert.Contains(ownerSees, ownerHtml);
        Assert.Equal(HttpStatusCode.OK, otherPage.StatusCode);
        Assert.Contains("This image is still being checked.", otherHtml);
        Assert.DoesNotContain("held", otherHtml);
        Assert.DoesNotContain("<img", otherHtml);
        Assert.Contains("noindex", otherHtml);
        Assert.True(otherPage.Headers.CacheControl is { NoStore: true });
    }

    [Fact]
    public async Task RemovedImage_TellsItsOwnerWhy_AndOthersOnlyGone()
    {
        await using var app = new ImagebinApp();
        var id = await UploadInStateAsync(app, ScanState.Removed, "spam <b>ring</b>");
        using var owner = await SignedInBrowser.SignInAsync(app, "alice");

        using var ownerPage = await owner.Client.GetAsync($"/v/{id}");
        using var otherPage = await app.Anonymous().GetAsync($"/v/{id}");
        var ownerHtml = await ownerPage.Content.ReadAsStringAsync();
        var otherBody = await otherPage.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Gone, ownerPage.StatusCode);
        Assert.Contains("a moderator removed it", ownerHtml);
        Assert.Contains("Reason given: spam &lt;b&gt;ring&lt;/b&gt;.", ownerHtml);
        await otherPage.AssertErrorAsync(410, Imagebin.Infrastructure.ErrorCodes.Gone);
        Assert.DoesNotContain("spam", otherBody);
    }

    [Fact]
    public async Task PassedImage_HasCopyButtons_RunByTheSitesOwnScript()
    {
        await using var app = new ImagebinApp();
        var id = await UploadInStateAsync(app, ScanState.Passed);

        using var page = await app.Anonymous().GetAsync($"/v/{id}");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Equal(5, System.Text.RegularExpressions.Regex.Matches(html, "<button type=\"button\" class=\"copy-button\" data-copy=\"share-[a-z]+\" hidden>").Count);
        Assert.Contains($"<script src=\"{Imagebin.Features.Web.SiteAssets.PathOf("view.js")}\" defer></script>", html);
        Assert.True(page.Headers.CacheControl is { Public: true });
    }
}
