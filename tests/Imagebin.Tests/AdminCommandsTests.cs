using System.Diagnostics;
using System.Net;
using Imagebin.Features.Admin;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class AdminCommandsTests
{
    private static readonly Dictionary<string, string?> NoWorker = new() { ["Imagebin:Roles"] = "api,authority" };

    private static async Task<(int Code, string Output, string Errors)> RunAsync(ImagebinApp app, params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var code = await AdminCommands.RunAsync(app.Services, args, output, errors);
        return (code, output.ToString(), errors.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n').Last().Trim();

    [Theory, Backends]
    public async Task FirstStart_CreatesTheAdminAccount(Backend backend)
    {
        await using var app = new ImagebinApp(backend);
        app.CreateClient().Dispose();

        await using var scope = app.Services.CreateAsyncScope();
        var admin = await scope.ServiceProvider.GetRequiredService<Imagebin.Data.ImagebinDb>().Accounts.SingleAsync();
        Assert.Equal("admin", admin.Name);
        Assert.Equal("admin", admin.Role);
        Assert.NotNull(admin.PasswordHash);
    }

    [Theory, Backends]
    public async Task KeysCreate_PrintsAWorkingKeyOnTheLastLine_AndRevokeStopsIt(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        Assert.Equal(0, (await RunAsync(app, "accounts", "create", "carol", "--password", "a long password")).Code);

        var (code, output, _) = await RunAsync(app, "keys", "create", "--account", "carol", "--scopes", "image:read", "--expires", "30d");

        Assert.Equal(0, code);
        var key = LastLine(output);
        Assert.Matches("^pbca_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$", key);
        var client = app.ClientWithKey(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/account/items")).StatusCode);

        var keyId = key["pbca_live_".Length..].Split('_')[0];
        var revoke = await RunAsync(app, "keys", "revoke", keyId);
        Assert.Equal(0, revoke.Code);
        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
        Assert.NotEqual(0, (await RunAsync(app, "keys", "revoke", keyId)).Code);
    }

    [Fact]
    public async Task KeysCreate_GivesTheAdminScopeOnlyToAdminAccounts()
    {
        await using var app = new ImagebinApp(settings: NoWorker);
        Assert.Equal(0, (await RunAsync(app, "accounts", "create", "carol", "--password", "a long password")).Code);
        Assert.Equal(0, (await RunAsync(app, "accounts", "create", "root", "--admin", "--password", "a long password")).Code);

        var refused = await RunAsync(app, "keys", "create", "--account", "carol", "--scopes", "image:read,admin");
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("admin account", refused.Errors);

        var (code, output, _) = await RunAsync(app, "keys", "create", "--account", "root", "--scopes", "image:read,admin");
        Assert.Equal(0, code);
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWithKey(LastLine(output)).GetAsync("/api/v1/admin/reviews")).StatusCode);
    }

    [Fact]
    public async Task AccountsBan_RefusesTheKeys_AndUnbanRestoresThem_WithAReasonInTheAuditTrail()
    {
        await using var app = new ImagebinApp(settings: NoWorker);
        var key = app.ClientWithKey(await app.CreateKeyAsync("mallory"));
        Assert.Equal(0, (await RunAsync(app, "accounts", "create", "root", "--admin", "--password", "a long password")).Code);

        var noReason = await RunAsync(app, "accounts", "ban", "mallory");
        Assert.NotEqual(0, noReason.Code);
        Assert.Contains("'reason' is required", noReason.Errors);
        Assert.NotEqual(0, (await RunAsync(app, "accounts", "ban", "root", "--reason", "no")).Code);
        Assert.NotEqual(0, (await RunAsync(app, "accounts", "ban", "nobody", "--reason", "no")).Code);

        var (code, output, _) = await RunAsync(app, "accounts", "ban", "mallory", "--reason", "spam uploads");
        Assert.Equal(0, code);
        Assert.Contains("is banned", LastLine(output));
        await (await key.GetAsync("/api/v1/account/items")).AssertErrorAsync(403, "account_banned");

        Assert.Equal(0, (await RunAsync(app, "accounts", "unban", "mallory", "--reason", "appeal accepted")).Code);
        Assert.Equal(HttpStatusCode.OK, (await key.GetAsync("/api/v1/account/items")).StatusCode);
        await using var scope = app.Services.CreateAsyncScope();
        var events = await scope.ServiceProvider.GetRequiredService<Imagebin.Data.ImagebinDb>().AuditEvents
            .Where(e => e.Action.StartsWith("account.")).OrderBy(e => e.Id).ToListAsync();
        Assert.Equal(["account.ban", "account.unban"], events.Select(e => e.Action));
        Assert.All(events, e => Assert.Null(e.ActorId));
        Assert.Contains("spam uploads", events[0].Detail);
    }

    [Theory, Backends]
    public async Task AccountsCreate_WithoutPassword_PrintsAOneTimePassword(Backend backend)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        var (code, output, _) = await RunAsync(app, "accounts", "create", "dave", "--admin");

        Assert.Equal(0, code);
        Assert.Matches("^One-time password: [0-9A-Za-z]{20}$", LastLine(output));
        Assert.NotEqual(0, (await RunAsync(app, "accounts", "create", "dave")).Code);
    }

    [Theory]
    [BackendsInlineData("keys", "create", "--account", "nobody", "--scopes", "image:read")]
    [BackendsInlineData("keys", "create", "--account", "admin", "--scopes", "image:everything")]
    [BackendsInlineData("keys", "create", "--account", "admin", "--scopes", "image:read", "--expires", "soon")]
    [BackendsInlineData("keys", "create", "--account")]
    [BackendsInlineData("accounts", "create", "bad name!")]
    [BackendsInlineData("frobnicate")]
    public async Task BadCommand_ExitsNonZeroWithAMessage(Backend backend, params string[] args)
    {
        await using var app = new ImagebinApp(backend, settings: NoWorker);
        await RunAsync(app, "accounts", "create", "admin");

        var (code, _, errors) = await RunAsync(app, args);

        Assert.NotEqual(0, code);
        Assert.Contains("error:", errors);
    }

    [Theory, Backends]
    public async Task TheBinary_RunsAdminCommandsAgainstTheDataDirectory(Backend backend)
    {
        using var store = new SharedStore(backend);

        var created = await RunBinaryAsync(store, "accounts", "create", "erin");
        Assert.Equal(0, created.Code);
        var key = await RunBinaryAsync(store, "keys", "create", "--account", "erin", "--scopes", "image:create,image:read");
        Assert.Equal(0, key.Code);
        Assert.StartsWith("pbca_live_", LastLine(key.Output));

        await using var app = store.Start();
        Assert.Equal(HttpStatusCode.OK, (await app.ClientWithKey(LastLine(key.Output)).GetAsync("/api/v1/account/items")).StatusCode);
    }

    /// <summary>Runs the Imagebin binary over <paramref name="store"/>, configured through the environment as in production.</summary>
    private static async Task<(int Code, string Output)> RunBinaryAsync(SharedStore store, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Imagebin.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Imagebin__DataDir"] = store.DataDir;
        start.Environment["Imagebin__PublicBaseUrl"] = ImagebinApp.BaseUrl;
        foreach (var (key, value) in store.Settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }
}
