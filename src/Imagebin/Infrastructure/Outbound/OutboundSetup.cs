namespace Imagebin.Infrastructure.Outbound;

public static class OutboundSetup
{
    /// <summary>Registers <see cref="OutboundOptions"/> and the singleton <see cref="GuardedHttp"/>; calling it again does nothing.</summary>
    public static IServiceCollection AddGuardedHttp(this IServiceCollection services)
    {
        if (services.Any(service => service.ServiceType == typeof(GuardedHttp)))
        {
            return services;
        }

        services.AddOptions<OutboundOptions>().BindConfiguration(OutboundOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<GuardedHttp>();
        return services;
    }
}
