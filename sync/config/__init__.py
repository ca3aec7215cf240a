"""The configuration: `mahnwerk.toml` and `shops/*.toml`, parsed once into frozen dataclasses or one ConfigError.

    shop.py      Config and ShopConfig with their small tables ([invoice], [statuses], [sync], [http])
    load.py      reading the folder; the shop's kind fills in what the file leaves out
    delivery.py  [merchant], [delivery], [smtp], [letters], [agency]
    payments.py  [payments] with [payments.stripe] and [payments.mollie]
    policy.py    [policy]: the preset, stages, base rates, and the templates they name
    schema.py    the machinery: dataclass fields as TOML keys, value parsers, `read_table`
    tomlpos.py   where each key is, so every problem names its line
    secrets.py   `${VAR}` and `*_file` credentials, never shown
"""

from mahnwerk.sync.config.load import load_config, unresolved_secrets
from mahnwerk.sync.config.schema import parse_duration
from mahnwerk.sync.config.shop import (
                                       DEFAULT_CONFIG_DIR,
                                       Config,
                                       DatabaseConfig,
                                       HttpConfig,
                                       InvoiceConfig,
                                       LoggingConfig,
                                       ShopAuth,
                                       ShopConfig,
                                       StatusMapping,
                                       SyncConfig,
)

__all__ = ["DEFAULT_CONFIG_DIR", "Config", "DatabaseConfig", "HttpConfig", "InvoiceConfig", "LoggingConfig",
           "ShopAuth", "ShopConfig", "StatusMapping", "SyncConfig", "load_config", "parse_duration",
           "unresolved_secrets"]
