using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Imagebin.Features.Authority.Dpop;

public static class DpopSetup
{
    public static IServiceCollection AddDpop(this IServiceCollection services)
    {
        services.AddOptions<DpopOptions>().BindConfiguration(DpopOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<DpopProofValidator>();
        return services;
    }
}
