using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Imagebin.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Imagebin.Tests.ScaleOut;

/// <summary>
/// <c>Authority:Mode=External</c> with two real processes and two stores: an authority-only node, and an api+worker
/// node that knows it only through its discovery document, JWKS and introspection endpoint.
/// </summary>
public sealed class ExternalAuthorityTests
{
    [Fact]
    public async Task ApiNode_AcceptsTheAuthoritysKeysAndTokens_AndSeesRevocationWithinTheCacheTtl()
    {
        int authorityPort = ImagebinNode.FreePort(), apiPort = ImagebinNode.FreePort();
        var api = $"http://127.0.0.1:{apiPort}";
        var issuer = $"http://127.0.0.1:{authorityPort}/";
        await using var authority = await ImagebinNode.StartAsync(new Dictionary<string, string?>
        {
            ["Imagebin:Roles"] = "authority",
            ["Authority:ResourceBaseUrl"] = api,
            ["Authority:IntrospectionClientId"] = "api-nodes",
            ["Authority:IntrospectionClientSecret"] = "a-long-shared-secret-for-introspection",
            ["Authority:Pow:DifficultyBits"] = "8",
        }, authorityPort);
        await using var apiNode = await ImagebinNode.StartAsync(new Dictionary<string, string?>
        {
            ["Imagebin:Roles"] = "api,worker",
            ["Authority:Mode"] = "External",
            ["Authority:Issuer"] = issuer,
            ["Authority:IntrospectionClientId"] = "api-nodes",
            ["Authority:IntrospectionClientSecret"] = "a-long-shared-secret-for-introspection",
            ["Authority:IntrospectionCacheSeconds"] = "1",
        }, apiPort);

        // Each node serves only its role.
        Assert.Equal(HttpStatusCode.NotFound, (await authority.Client.GetAsync("/api/v1/account/items")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await apiNode.Client.GetAsync("/.well-known/oauth-authorization-server")).StatusCode);
        var prm = await (await apiNode.Client.GetAsync("/.well-known/oauth-protected-resource")).JsonAsync();
        Assert.Equal(issuer, prm.GetProperty("authorization_servers")[0].GetString());

        // An agent signs up at the authority; its key is for the api node and works there.
        var signup = await PowSolver.SignUpAsync(authority.Client, "agent");
        var key = signup.GetProperty("api_key").GetString()!;
        Assert.Equal(api, signup.GetProperty("audience").GetString());
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/account/items"))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            Assert.Equal(HttpStatusCode.OK, (await apiNode.Client.SendAsync(request)).StatusCode);
        }

        using (var upload = new HttpRequestMessage(HttpMethod.Post, "/api/v1/items") { Content = new ByteArrayContent(TestImages.Png()) })
        {
            upload.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            upload.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await apiNode.Client.SendAsync(upload);
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        }

        // A person signs up in the browser and authorizes an MCP client; its token is for the api node and works there.
        var flow = OAuthFlow.For(authority.BaseAddress);
        await flow.SignUpAsync("person", "a long enough password");
        var clientId = await flow.RegisterAsync();
        var pkce = OAuthFlow.Pkce.Create();
        var code = await flow.AuthorizeAsync(clientId, pkce, account: null);
        using var tokenResponse = await flow.RedeemCodeAsync(clientId, code, pkce.Verifier);
        var tokens = await tokenResponse.JsonAsync();
        var access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal(issuer, OAuthFlow.JwtPart(access, 1).GetProperty("iss").GetString());
        using (var items = await apiNode.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", access)))
        {
            Assert.Equal(HttpStatusCode.OK, items.StatusCode);
        }

        // Revoked at the authority: refused at the api node once its cached answer (1 s here) has expired.
        using (var revoke = await flow.Client.PostAsync("/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
               {
                   ["client_id"] = clientId, ["token"] = access,
               })))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        var keyId = signup.GetProperty("key_id").GetString()!;
        Assert.Equal(0, await RunAsync(authority.DataDir, "keys", "revoke", keyId));
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using (var items = await apiNode.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", access)))
        {
            await items.AssertErrorAsync(401, "invalid_token");
        }

        using (var items = await apiNode.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", key)))
        {
            await items.AssertErrorAsync(401, "invalid_token");
        }

        // The api node has no tables of the authority's: its store holds no account, key or OAuth row.
        Assert.False(File.Exists(Path.Combine(apiNode.DataDir, "imagebin.db")) && await CountAsync(apiNode.DataDir) > 0);

        // With the authority gone, a credential is neither accepted nor refused: 503, so that clients keep it.
        await authority.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using (var items = await apiNode.Client.SendAsync(OAuthFlow.Get("/api/v1/account/items", key)))
        {
            await items.AssertErrorAsync(503, "authority_unavailable");
            Assert.NotNull(items.Headers.RetryAfter);
        }
    }

    /// <summary>Accounts, keys and OAuth tokens in a node's SQLite store.</summary>
    private static async Task<long> CountAsync(string dataDir)
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "imagebin.db")};Mode=ReadOnly");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM oauth_tokens)";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<int> RunAsync(string dataDir, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Imagebin.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Imagebin__DataDir"] = dataDir;
        using var process = Process.Start(start)!;
        await Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
