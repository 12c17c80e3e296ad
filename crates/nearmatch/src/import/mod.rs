//! Hash-list readers: plain hex, CSV/TSV, ThreatExchange PDQ text, Project VIC VICS JSON.
