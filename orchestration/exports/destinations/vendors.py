"""The vendor destination clients by ``kind`` (the sync YAML's ``destination.kind``)."""

from __future__ import annotations

from .google_ads import GoogleAdsCustomerMatch
from .hubspot import HubSpotUpsert
from .klaviyo import KlaviyoListMembers, KlaviyoProfiles
from .meta import MetaCustomAudience
from .salesforce import SalesforceUpsert

VENDOR_CLIENTS = {cls.kind: cls for cls in (KlaviyoProfiles, KlaviyoListMembers, MetaCustomAudience,
                                            GoogleAdsCustomerMatch, HubSpotUpsert, SalesforceUpsert)}
