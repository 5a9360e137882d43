using Imagebin.Data;
using Imagebin.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Imagebin.Features.Accounts;

/// <summary>On the first start with an empty store, creates the <c>admin</c> account and tells the operator what to do next.</summary>
public sealed class FirstRunAdmin(IServiceScopeFactory scopes, IOptions<ImagebinOptions> options, ILogger<FirstRunAdmin> logger) : IHostedService
{
    private const string KeyCommand = "dotnet run --project src/Imagebin -- keys create --account admin --scopes image:create,image:read,image:delete";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.HasRole("authority"))
        {
            return;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ImagebinDb>();
        if (await db.Accounts.AnyAsync(cancellationToken))
        {
            logger.LogInformation("Create an API key with: {Command}", KeyCommand);
            return;
        }

        AccountService.Created created;
        try
        {
            created = await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync("admin", admin: true, password: null, cancellationToken);
        }
        catch (Exception exception) when (exception is DbUpdateException or ArgumentException)
        {
            // Another node starting at the same moment created it first (the name is unique).
            logger.LogInformation("Another node created the first account; create an API key with: {Command}", KeyCommand);
            return;
        }

        logger.LogWarning(
            """
            Created the first account 'admin' with the one-time password {Password} (shown only now).
            Create an API key for it with:
              {Command}
            """,
            created.OneTimePassword,
            KeyCommand);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
