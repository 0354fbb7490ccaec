package config

import "time"

// Default returns the configuration used when no variable is set. It is the
// only place defaults live. Instance.ID is left empty here; Load fills it
// with the host name and a random suffix.
func Default() Config {
	return Config{
		SMPP: SMPP{
			Host:                "0.0.0.0",
			Port:                2776,
			SystemID:            "testuser",
			Password:            "testpass",
			Window:              256,
			MaxConnections:      1000,
			MaxPDUSize:          65536,
			BindTimeout:         10 * time.Second,
			EnquireLinkInterval: 30 * time.Second,
			EnquireLinkTimeout:  10 * time.Second,
			InactivityTimeout:   300 * time.Second,
			ResponseTimeout:     10 * time.Second,
			SystemName:          "smpp-hlr-gw",
			UnbindTimeout:       2 * time.Second,

			MaxConnectionsPerIP:   100,
			MaxUnboundConnections: 200,
			MaxBindsPerAccount:    100,
			MaxOutputBytes:        4 << 20,
			MaxOutputBytesTotal:   64 << 20,
			SlowConsumerTimeout:   10 * time.Second,
			MaxPrebindRequests:    10,
			FailedBindDelay:       time.Second,
			MaxFailedBinds:        20,
			FailedBindBlock:       300 * time.Second,
			BindGuardEntries:      65536,
			MaxIdlePDUsPerSecond:  1000,
		},
		HLR: HLR{
			Provider:        ProviderTMT,
			BaseURL:         "https://api.tmtvelocity.com/live/json",
			Timeout:         5 * time.Second,
			SlotWait:        time.Second,
			TimeoutPolicy:   PolicyReject,
			ErrorPolicy:     PolicyAccept,
			MaxConcurrency:  256,
			BreakerFailures: 20,
			BreakerOpen:     30 * time.Second,
		},
		Cache: Cache{
			TTL:           86400 * time.Second,
			TemporaryTTL:  900 * time.Second,
			MemoryEntries: 1_000_000,
		},
		Redis: Redis{
			MaxConnections: 10,
			Timeout:        500 * time.Millisecond,
			WaitTimeout:    100 * time.Millisecond,
			SlowAfter:      50 * time.Millisecond,
		},
		DLR: DLR{
			Delay:             time.Second,
			Mode:              ModeAlways,
			TTL:               86400 * time.Second,
			RetryMin:          time.Second,
			RetryMax:          300 * time.Second,
			BufferSize:        100_000,
			VisibilityTimeout: 60 * time.Second,
			// A transmitter-only client must not pile up receipts without
			// bound; a day of a busy account stays under it.
			MaxPendingPerAccount: 1_000_000,
			MaxDeliverInflight:   4096,
		},
		Log: Log{
			Level:  LevelInfo,
			Format: FormatJSON,
			// A few hundred ms of the reject path's lines at full rate.
			BufferBytes: 4 << 20,
		},
		Metrics: Metrics{
			Enabled: true,
			Host:    "0.0.0.0",
			Port:    9091,
			// Scrapers, health checks and operators need a handful; the
			// bound keeps a client from taking every file descriptor.
			MaxConnections: 256,
		},
		Shutdown: Shutdown{
			Timeout: 15 * time.Second,
		},
		Instance: Instance{
			BindLease: 30 * time.Second,
		},
		Runtime: Runtime{GCHeadroomMB: 32},
	}
}
