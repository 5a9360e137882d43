using Imagebin.Features.Accounts;
using Imagebin.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Imagebin.Tests.Browser;

/// <summary>
/// The OAuth consent page in Chromium: answering it must take the user back to the application, i.e. the browser must
/// follow <c>/oauth/authorize</c>'s redirect to the client's redirect URI on another origin (a <c>form-action 'self'</c>
/// policy on this page would block exactly that; see <c>Html.ConsentContentSecurityPolicy</c>).
/// </summary>
public sealed class ConsentTests(Chromium chromium) : IClassFixture<Chromium>
{
    [Fact]
    public async Task Allow_OnTheConsentPage_SendsTheBrowserToTheClientWithACode()
    {
        await using var site = LiveSite.Start();
        await using (var scope = site.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AccountService>()
                .CreateAsync("consent-cleo", admin: false, "a long enough password", CancellationToken.None);
        }

        var clientId = await OAuthFlow.For(new Uri(site.BaseUrl + "/")).RegisterAsync(name: "Browser test client");
        await using var context = await chromium.NewContextAsync();
        // Nothing listens on the redirect URI: the browser's request for it is the answer, served here.
        await context.RouteAsync(OAuthFlow.RedirectUri + "**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            Status = 200,
            ContentType = "text/plain",
            Body = "callback reached",
        }));
        var page = await context.NewPageAsync();
        var problems = Problems.Watch(page);

        var authorize = OAuthFlow.AuthorizeUrl(clientId, OAuthFlow.Pkce.Create());
        await page.GotoAsync(site.Url($"/account/signin?return_url={Uri.EscapeDataString(authorize)}"));
        await page.Locator("#name").FillAsync("consent-cleo");
        await page.Locator("#password").FillAsync("a long enough password");
        await page.Locator("button[type=submit]").ClickAsync();
        var allow = page.GetByRole(AriaRole.Button, new() { Name = "Allow" });
        await allow.WaitForAsync();
        Assert.Equal("Authorize access · Imagebin", await page.TitleAsync());

        var callback = await page.RunAndWaitForRequestAsync(
            () => allow.ClickAsync(),
            request => request.Url.StartsWith(OAuthFlow.RedirectUri, StringComparison.Ordinal));

        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(callback.Url).Query);
        Assert.False(string.IsNullOrEmpty(query["code"]), callback.Url);
        Assert.Equal("st4te", query["state"].ToString());
        problems.AssertNone();
    }
}
