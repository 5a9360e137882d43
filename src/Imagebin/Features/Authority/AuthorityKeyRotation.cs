using Imagebin.Features.Accounts;
using Imagebin.Infrastructure;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace Imagebin.Features.Authority;

/// <summary>
/// Every ten minutes an authority node writes the next signing key when one is due, and every node re-reads the keys;
/// when they changed, the server's options are rebuilt so that the JWKS and the signer follow without a restart.
/// </summary>
public sealed class AuthorityKeyRotation(
    AuthorityKeyRing keys,
    IOptions<ImagebinOptions> site,
    IOptions<AuthorityOptions> authority,
    IOptionsMonitorCache<OpenIddictServerOptions> serverOptions,
    TimeProvider time,
    ILogger<AuthorityKeyRotation> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (authority.Value.Mode != AuthorityMode.Embedded)
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogError(exception, "Checking the authority's keys failed; trying again in {Interval}", Interval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        if (site.Value.HasRole("authority") && await keys.RotateIfDueAsync(cancellationToken))
        {
            await keys.LoadAsync(cancellationToken);
        }
        else
        {
            await keys.RefreshAsync(cancellationToken);
        }

        // The keys may also have been re-read by a request (a token naming a key this node had not seen yet).
        if (keys.ServerIsBehind)
        {
            serverOptions.TryRemove(Options.DefaultName);
        }
    }
}
