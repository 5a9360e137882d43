using Imagebin.Data;
using Imagebin.Features.Accounts;
using Imagebin.Features.Admin;
using Imagebin.Features.Authority;
using Imagebin.Features.Captions;
using Imagebin.Features.Discovery;
using Imagebin.Features.Docs;
using Imagebin.Features.Items;
using Imagebin.Features.Mcp;
using Imagebin.Features.Media;
using Imagebin.Features.Moderation;
using Imagebin.Features.Web;
using Imagebin.Infrastructure;
using Imagebin.Jobs;
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddImagebinHost();
builder.AddData();
builder.AddJobs();
builder.AddAccounts();
builder.AddAuthority();
builder.AddPow();
builder.AddItems();
builder.AddModeration();
builder.AddCaptions();
builder.AddAdmin();
builder.AddSitePolicies();
builder.AddMcp();
builder.AddOpenApiDocument();

var app = builder.Build();
await app.Services.InitializeDataAsync(migrate: AdminCommands.IsMigrate(args));
if (AdminCommands.IsCommand(args))
{
    return await AdminCommands.RunAsync(app.Services, args, Console.Out, Console.Error);
}

app.UseApiErrors();
app.MapHealth();
app.MapSiteAssets();
var roles = app.Services.GetRequiredService<IOptions<ImagebinOptions>>().Value;
if (roles.HasRole("authority"))
{
    app.UseAuthority();
    app.MapAuthority();
    app.MapPowApi();
}

if (roles.HasRole("api"))
{
    app.UseCredentials();
    app.UseAuthorization();

    app.MapItemsApi();
    app.MapAccountApi();
    app.MapKeysApi();
    app.MapProtectedResourceMetadata();
    app.MapModerationApi();
    app.MapMediaApi();
    app.MapOEmbed();
    app.MapOpenApiDocument();
    app.MapHomePage();
    app.MapViewPages();
    app.MapDeletePage();
    app.MapReportPage();
    app.MapDashboardPage();
    app.MapAccountPage();
    app.MapAdminPages();
    app.MapAgentCard();
    app.MapLlmsTxt();
    app.MapRobotsTxt();
    app.MapDocsPages();
    app.MapMcpEndpoint();
}

await app.RunAsync();
return 0;

public partial class Program;
