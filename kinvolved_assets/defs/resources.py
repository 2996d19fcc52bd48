"""The platform resource: where data lives and which customers exist."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource

from kinvolved_assets.customers import CustomerConfig, load_customer_configs
from kinvolved_assets.paths import CustomerPaths, check_slug


class PlatformResource(ConfigurableResource):
    """KINVOLVED_HOME and the customer config folder, resolved once per run."""

    home: str
    config_dir: str

    @property
    def home_path(self) -> Path:
        return Path(self.home).resolve()

    def customer(self, customer_id: str) -> CustomerConfig:
        check_slug(customer_id)
        loaded = load_customer_configs(Path(self.config_dir), home=self.home_path)
        if customer_id not in loaded.customers:
            problems = [str(e) for e in loaded.errors_of(customer_id)]
            raise ValueError(
                f"customer {customer_id!r} has no valid config in {self.config_dir}"
                + (f": {'; '.join(problems)}" if problems else "")
            )
        return loaded.customers[customer_id]

    def paths(self, customer_id: str) -> CustomerPaths:
        return CustomerPaths.for_customer(customer_id, self.home_path)
