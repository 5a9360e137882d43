using System.Diagnostics;
using System.Net;
using Imagebin.Features.Admin;
using Imagebin.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Imagebin.Tests;

public sealed class AdminCommandsTests : IAsyncLifetime
{
    private readonly ImagebinApp _app = new(settings: new() { ["Imagebin:Roles"] = "api,authority" });

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<(int Code, string Output, string Errors)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        var code = await AdminCommands.RunAsync(_app.Services, args, output, errors);
        return (code, output.ToString(), errors.ToString());
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n').Last().Trim();

    [Fact]
    public async Task FirstStart_CreatesTheAdminAccount()
    {
        await using var app = new ImagebinApp();
        app.CreateClient().Dispose();

        await using var scope = app.Services.CreateAsyncScope();
        var admin = await scope.ServiceProvider.GetRequiredService<Imagebin.Data.ImagebinDb>().Accounts.SingleAsync();
        Assert.Equal("admin", admin.Name);
        Assert.Equal("admin", admin.Role);
        Assert.NotNull(admin.PasswordHash);
    }

    [Fact]
    public async Task KeysCreate_PrintsAWorkingKeyOnTheLastLine_AndRevokeStopsIt()
    {
        Assert.Equal(0, (await RunAsync("accounts", "create", "carol", "--password", "a long password")).Code);

        var (code, output, _) = await RunAsync("keys", "create", "--account", "carol", "--scopes", "image:read", "--expires", "30d");

        Assert.Equal(0, code);
        var key = LastLine(output);
        Assert.Matches("^pbca_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{43}$", key);
        var client = _app.ClientWithKey(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/account/items")).StatusCode);

        var keyId = key["pbca_live_".Length..].Split('_')[0];
        var revoke = await RunAsync("keys", "revoke", keyId);
        Assert.Equal(0, revoke.Code);
        await (await client.GetAsync("/api/v1/account/items")).AssertErrorAsync(401, "invalid_token");
        Assert.NotEqual(0, (await RunAsync("keys", "revoke", keyId)).Code);
    }

    [Fact]
    public async Task AccountsCreate_WithoutPassword_PrintsAOneTimePassword()
    {
        var (code, output, _) = await RunAsync("accounts", "create", "dave", "--admin");

        Assert.Equal(0, code);
        Assert.Matches("^One-time password: [0-9A-Za-z]{20}$", LastLine(output));
        Assert.NotEqual(0, (await RunAsync("accounts", "create", "dave")).Code);
    }

    [Theory]
    [InlineData("keys", "create", "--account", "nobody", "--scopes", "image:read")]
    [InlineData("keys", "create", "--account", "admin", "--scopes", "image:everything")]
    [InlineData("keys", "create", "--account", "admin", "--scopes", "image:read", "--expires", "soon")]
    [InlineData("keys", "create", "--account")]
    [InlineData("accounts", "create", "bad name!")]
    [InlineData("frobnicate")]
    public async Task BadCommand_ExitsNonZeroWithAMessage(params string[] args)
    {
        await RunAsync("accounts", "create", "admin");

        var (code, _, errors) = await RunAsync(args);

        Assert.NotEqual(0, code);
        Assert.Contains("error:", errors);
    }

    [Fact]
    public async Task TheBinary_RunsAdminCommandsAgainstTheDataDirectory()
    {
        var dataDir = Directory.CreateTempSubdirectory("imagebin-cli-").FullName;
        try
        {
            var created = await RunBinaryAsync(dataDir, "accounts", "create", "erin");
            Assert.Equal(0, created.Code);
            var key = await RunBinaryAsync(dataDir, "keys", "create", "--account", "erin", "--scopes", "image:create,image:read");
            Assert.Equal(0, key.Code);
            Assert.StartsWith("pbca_live_", LastLine(key.Output));

            await using var app = new ImagebinApp(dataDir: dataDir);
            Assert.Equal(HttpStatusCode.OK, (await app.ClientWithKey(LastLine(key.Output)).GetAsync("/api/v1/account/items")).StatusCode);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task<(int Code, string Output)> RunBinaryAsync(string dataDir, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Imagebin.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Imagebin__DataDir"] = dataDir;
        start.Environment["Imagebin__PublicBaseUrl"] = ImagebinApp.BaseUrl;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }
}
