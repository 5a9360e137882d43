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
        var rotated = site.Value.HasRole("authority") && await keys.RotateIfDueAsync(cancellationToken);
        if (rotated)
        {
            await keys.LoadAsync(cancellationToken);
        }

        if (rotated || await keys.RefreshAsync(cancellationToken))
        {
            serverOptions.TryRemove(Options.DefaultName);
        }
    }
}
