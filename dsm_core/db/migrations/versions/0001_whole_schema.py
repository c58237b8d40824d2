"""whole schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 20:54:57.038192
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import dsm_core.db.types
revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('activity_settings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('sealing_public_key', sa.String(), nullable=True),
    sa.Column('log_level', sa.Enum('all', 'errors_only', 'none', name='activity_log_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('log_retention_days', sa.Integer(), nullable=False),
    sa.Column('job_retention_days', sa.Integer(), nullable=False),
    sa.Column('auto_cleanup_enabled', sa.Boolean(), nullable=False),
    sa.Column('last_cleanup_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('job_auto_cleanup_enabled', sa.Boolean(), nullable=False),
    sa.Column('job_last_cleanup_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('auto_cancel_stale_jobs', sa.Boolean(), nullable=False),
    sa.Column('stale_pending_hours', sa.Integer(), nullable=False),
    sa.Column('stale_running_hours', sa.Integer(), nullable=False),
    sa.Column('keep_statistics', sa.Boolean(), nullable=False),
    sa.Column('statistics_retention_days', sa.Integer(), nullable=False),
    sa.Column('alert_on_failures', sa.Boolean(), nullable=False),
    sa.Column('alert_on_slow_commands', sa.Boolean(), nullable=False),
    sa.Column('slow_command_threshold_ms', sa.Integer(), nullable=False),
    sa.Column('max_request_body_kb', sa.Integer(), nullable=False),
    sa.Column('max_response_body_kb', sa.Integer(), nullable=False),
    sa.Column('idrac_max_concurrent', sa.Integer(), nullable=False),
    sa.Column('global_max_concurrent', sa.Integer(), nullable=False),
    sa.Column('idrac_request_delay_ms', sa.Integer(), nullable=False),
    sa.Column('discovery_max_threads', sa.Integer(), nullable=False),
    sa.Column('pause_idrac_operations', sa.Boolean(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_settings'))
    )
    op.create_table('credential_sets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('password_sealed', sa.String(), nullable=True),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credential_sets')),
    sa.UniqueConstraint('name', name=op.f('uq_credential_sets_name'))
    )
    op.create_table('firmware_repositories',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('share_type', sa.Enum('nfs', 'cifs', 'http', 'https', name='share_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('share_path', sa.String(), nullable=False),
    sa.Column('catalog_file', sa.String(length=255), nullable=False),
    sa.Column('share_username', sa.String(length=100), nullable=True),
    sa.Column('share_password_sealed', sa.String(), nullable=True),
    sa.Column('verify_tls', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('catalog_version', sa.String(length=64), nullable=True),
    sa.Column('catalog_release_date', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_checked_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_repositories')),
    sa.UniqueConstraint('name', name=op.f('uq_firmware_repositories_name'))
    )
    op.create_table('network_settings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('connection_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('read_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('operation_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('max_retry_attempts', sa.Integer(), nullable=False),
    sa.Column('retry_delay_seconds', sa.Integer(), nullable=False),
    sa.Column('retry_backoff_type', sa.Enum('linear', 'exponential', name='retry_backoff_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('max_concurrent_connections', sa.Integer(), nullable=False),
    sa.Column('max_requests_per_minute', sa.Integer(), nullable=False),
    sa.Column('require_prereq_validation', sa.Boolean(), nullable=False),
    sa.Column('monitor_latency', sa.Boolean(), nullable=False),
    sa.Column('latency_alert_threshold_ms', sa.Integer(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_network_settings'))
    )
    op.create_table('notification_settings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('smtp_host', sa.String(length=255), nullable=True),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_user', sa.String(length=200), nullable=True),
    sa.Column('smtp_password_sealed', sa.String(), nullable=True),
    sa.Column('smtp_from_email', sa.String(length=255), nullable=True),
    sa.Column('teams_webhook_url', sa.String(), nullable=True),
    sa.Column('teams_mention_users', sa.String(), nullable=True),
    sa.Column('notify_on_job_started', sa.Boolean(), nullable=False),
    sa.Column('notify_on_job_complete', sa.Boolean(), nullable=False),
    sa.Column('notify_on_job_failed', sa.Boolean(), nullable=False),
    sa.Column('critical_job_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('mention_on_critical_failures', sa.Boolean(), nullable=False),
    sa.Column('notify_on_unsafe_cluster', sa.Boolean(), nullable=False),
    sa.Column('notify_on_cluster_warning', sa.Boolean(), nullable=False),
    sa.Column('notify_on_cluster_status_change', sa.Boolean(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_settings'))
    )
    op.create_table('openmanage_settings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=True),
    sa.Column('password_sealed', sa.String(), nullable=True),
    sa.Column('tls_verify_mode', sa.Enum('pin', 'ca', 'off', name='tls_verify_mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('tls_fingerprint_sha256', sa.String(length=95), nullable=True),
    sa.Column('sync_enabled', sa.Boolean(), nullable=False),
    sa.Column('last_sync', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_openmanage_settings'))
    )
    op.create_table('scheduled_safety_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('schedule_cron', sa.String(length=100), nullable=False),
    sa.Column('check_all_clusters', sa.Boolean(), nullable=False),
    sa.Column('specific_clusters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('check_all_groups', sa.Boolean(), nullable=False),
    sa.Column('min_required_hosts', sa.Integer(), nullable=False),
    sa.Column('notify_on_unsafe', sa.Boolean(), nullable=False),
    sa.Column('notify_on_warnings', sa.Boolean(), nullable=False),
    sa.Column('notify_on_safe_to_unsafe_change', sa.Boolean(), nullable=False),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_run_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_safety_checks'))
    )
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.Enum('admin', 'operator', 'viewer', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('vcenters',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('password_sealed', sa.String(), nullable=True),
    sa.Column('tls_verify_mode', sa.Enum('pin', 'ca', 'off', name='tls_verify_mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('tls_fingerprint_sha256', sa.String(length=95), nullable=True),
    sa.Column('sync_enabled', sa.Boolean(), nullable=False),
    sa.Column('sync_interval_minutes', sa.Integer(), nullable=False),
    sa.Column('last_sync', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_sync_status', sa.String(length=32), nullable=True),
    sa.Column('last_sync_error', sa.String(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vcenters')),
    sa.UniqueConstraint('name', name=op.f('uq_vcenters_name'))
    )
    op.create_table('virtual_media_settings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('share_type', sa.Enum('nfs', 'cifs', 'http', 'https', name='share_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('export_path', sa.String(), nullable=True),
    sa.Column('iso_path', sa.String(), nullable=True),
    sa.Column('use_auth', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=True),
    sa.Column('password_sealed', sa.String(), nullable=True),
    sa.Column('notes', sa.String(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtual_media_settings'))
    )
    op.create_table('worker_heartbeats',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('running', 'draining', 'stopped', name='worker_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('started_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('last_beat_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('running_jobs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('max_concurrent_jobs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_heartbeats'))
    )
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_worker_heartbeats_last_beat_at', ['last_beat_at'], unique=False)

    op.create_table('audit_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('target_type', sa.String(length=50), nullable=True),
    sa.Column('target_id', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ip_address', sa.String(length=64), nullable=True),
    sa.Column('timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_logs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_logs'))
    )
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.create_index('ix_audit_logs_timestamp', ['timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_logs_user_id'), ['user_id'], unique=False)

    op.create_table('credential_ip_ranges',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('credential_set_id', sa.Uuid(), nullable=False),
    sa.Column('ip_range', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['credential_set_id'], ['credential_sets.id'], name=op.f('fk_credential_ip_ranges_credential_set_id_credential_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credential_ip_ranges'))
    )
    with op.batch_alter_table('credential_ip_ranges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credential_ip_ranges_credential_set_id'), ['credential_set_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_type', sa.Enum('firmware_update', 'discovery_scan', 'vcenter_sync', 'full_server_update', 'test_credentials', 'power_action', 'health_check', 'fetch_event_logs', 'boot_configuration', 'virtual_media_mount', 'virtual_media_unmount', 'bios_config_read', 'bios_config_write', 'scp_export', 'scp_import', 'vcenter_connectivity_test', 'openmanage_sync', 'cluster_safety_check', 'server_group_safety_check', 'rolling_cluster_update', 'prepare_host_for_update', 'verify_host_after_update', 'refresh_server_info', name='job_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'running', 'completed', 'failed', 'cancelled', name='job_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('target_scope', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('completed_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('schedule_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('parent_job_id', sa.Uuid(), nullable=True),
    sa.Column('component_order', sa.Integer(), nullable=True),
    sa.Column('credential_set_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('firmware_source', sa.String(length=32), nullable=True),
    sa.Column('dell_catalog_url', sa.String(), nullable=True),
    sa.Column('auto_select_latest', sa.Boolean(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('claimed_by', sa.Uuid(), nullable=True),
    sa.Column('lease_expires_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.CheckConstraint('progress >= 0 AND progress <= 100', name=op.f('ck_jobs_progress_range')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_jobs_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_job_id'], ['jobs.id'], name=op.f('fk_jobs_parent_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_parent_job_id'), ['parent_job_id'], unique=False)
        batch_op.create_index('ix_jobs_status_created_at', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_jobs_updated_at', ['updated_at'], unique=False)

    op.create_table('maintenance_windows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('maintenance_type', sa.Enum('firmware_update', 'rolling_cluster_update', 'patch', 'hardware', 'bios_update', name='maintenance_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('planned_start', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('planned_end', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('planned', 'in_progress', 'completed', 'cancelled', 'failed', name='window_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('server_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('cluster_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('server_group_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('job_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('four_eyes', sa.Boolean(), nullable=False),
    sa.Column('approved_by', sa.Uuid(), nullable=True),
    sa.Column('approved_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('auto_execute', sa.Boolean(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('credential_set_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('recurrence_enabled', sa.Boolean(), nullable=False),
    sa.Column('recurrence_type', sa.Enum('one_time', 'recurring', name='recurrence_type', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('recurrence_pattern', sa.String(length=100), nullable=True),
    sa.Column('last_executed_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('notify_before_hours', sa.Integer(), nullable=False),
    sa.Column('notification_sent', sa.Boolean(), nullable=False),
    sa.Column('safety_check_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('started_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('completed_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('planned_end > planned_start', name=op.f('ck_maintenance_windows_end_after_start')),
    sa.ForeignKeyConstraint(['approved_by'], ['users.id'], name=op.f('fk_maintenance_windows_approved_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_maintenance_windows_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_windows'))
    )
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_maintenance_windows_approved_by'), ['approved_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_maintenance_windows_created_by'), ['created_by'], unique=False)
        batch_op.create_index('ix_maintenance_windows_status_planned_start', ['status', 'planned_start'], unique=False)

    op.create_table('server_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('group_type', sa.Enum('manual', 'vcenter_cluster', 'application', 'rack', name='group_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('color', sa.String(length=7), nullable=False),
    sa.Column('icon', sa.String(length=50), nullable=False),
    sa.Column('min_healthy_servers', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('min_healthy_servers >= 0', name=op.f('ck_server_groups_min_healthy_nonnegative')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_server_groups_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_server_groups_name'))
    )
    with op.batch_alter_table('server_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_groups_created_by'), ['created_by'], unique=False)

    op.create_table('cluster_safety_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cluster_id', sa.String(length=255), nullable=False),
    sa.Column('vcenter_id', sa.Uuid(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('check_timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('total_hosts', sa.Integer(), nullable=False),
    sa.Column('healthy_hosts', sa.Integer(), nullable=False),
    sa.Column('min_required_hosts', sa.Integer(), nullable=False),
    sa.Column('safe_to_proceed', sa.Boolean(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('is_scheduled', sa.Boolean(), nullable=False),
    sa.Column('scheduled_check_id', sa.Uuid(), nullable=True),
    sa.Column('status_changed', sa.Boolean(), nullable=False),
    sa.Column('previous_status', sa.String(length=32), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_cluster_safety_checks_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['scheduled_check_id'], ['scheduled_safety_checks.id'], name=op.f('fk_cluster_safety_checks_scheduled_check_id_scheduled_safety_checks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vcenter_id'], ['vcenters.id'], name=op.f('fk_cluster_safety_checks_vcenter_id_vcenters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_safety_checks'))
    )
    with op.batch_alter_table('cluster_safety_checks', schema=None) as batch_op:
        batch_op.create_index('ix_cluster_safety_checks_cluster_id_check_timestamp', ['cluster_id', 'check_timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_safety_checks_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_safety_checks_scheduled_check_id'), ['scheduled_check_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cluster_safety_checks_vcenter_id'), ['vcenter_id'], unique=False)

    op.create_table('notification_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('notification_type', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.Enum('sent', 'failed', name='notification_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('delivery_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error_message', sa.String(), nullable=True),
    sa.Column('severity', sa.Enum('normal', 'warning', 'critical', name='severity', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_notification_logs_job_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_logs'))
    )
    with op.batch_alter_table('notification_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_logs_job_id'), ['job_id'], unique=False)

    op.create_table('server_group_safety_checks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_group_id', sa.Uuid(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('check_timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('total_servers', sa.Integer(), nullable=False),
    sa.Column('healthy_servers', sa.Integer(), nullable=False),
    sa.Column('min_required_servers', sa.Integer(), nullable=False),
    sa.Column('safe_to_proceed', sa.Boolean(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('warnings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_scheduled', sa.Boolean(), nullable=False),
    sa.Column('scheduled_check_id', sa.Uuid(), nullable=True),
    sa.Column('status_changed', sa.Boolean(), nullable=False),
    sa.Column('previous_status', sa.String(length=32), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_server_group_safety_checks_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['scheduled_check_id'], ['scheduled_safety_checks.id'], name=op.f('fk_server_group_safety_checks_scheduled_check_id_scheduled_safety_checks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_group_id'], ['server_groups.id'], name=op.f('fk_server_group_safety_checks_server_group_id_server_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_group_safety_checks'))
    )
    with op.batch_alter_table('server_group_safety_checks', schema=None) as batch_op:
        batch_op.create_index('ix_server_group_safety_checks_group_timestamp', ['server_group_id', 'check_timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_group_safety_checks_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_group_safety_checks_scheduled_check_id'), ['scheduled_check_id'], unique=False)

    op.create_table('servers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=True),
    sa.Column('service_tag', sa.String(length=32), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('manufacturer', sa.String(length=100), nullable=False),
    sa.Column('product_name', sa.String(length=200), nullable=True),
    sa.Column('idrac_username', sa.String(length=100), nullable=True),
    sa.Column('idrac_password_sealed', sa.String(), nullable=True),
    sa.Column('credential_set_id', sa.Uuid(), nullable=True),
    sa.Column('discovered_by_credential_set_id', sa.Uuid(), nullable=True),
    sa.Column('tls_verify_mode', sa.Enum('pin', 'ca', 'off', name='tls_verify_mode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('tls_fingerprint_sha256', sa.String(length=95), nullable=True),
    sa.Column('tls_ca_bundle', sa.String(), nullable=True),
    sa.Column('bios_version', sa.String(length=64), nullable=True),
    sa.Column('idrac_firmware', sa.String(length=64), nullable=True),
    sa.Column('idrac_generation', sa.Integer(), nullable=True),
    sa.Column('redfish_version', sa.String(length=32), nullable=True),
    sa.Column('power_state', sa.String(length=32), nullable=True),
    sa.Column('overall_health', sa.String(length=32), nullable=True),
    sa.Column('cpu_count', sa.Integer(), nullable=True),
    sa.Column('memory_gb', sa.Float(), nullable=True),
    sa.Column('manager_mac_address', sa.String(length=32), nullable=True),
    sa.Column('connection_status', sa.Enum('connected', 'failed', 'unknown', name='connection_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('connection_error', sa.String(), nullable=True),
    sa.Column('credential_test_status', sa.String(length=32), nullable=True),
    sa.Column('last_seen', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_connection_test', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_health_check', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('last_boot_config_check', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('credential_last_tested', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('boot_mode', sa.String(length=32), nullable=True),
    sa.Column('boot_source_override_enabled', sa.String(length=32), nullable=True),
    sa.Column('boot_source_override_target', sa.String(length=64), nullable=True),
    sa.Column('boot_order', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('supported_endpoints', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('discovery_job_id', sa.Uuid(), nullable=True),
    sa.Column('openmanage_device_id', sa.String(length=64), nullable=True),
    sa.Column('last_openmanage_sync', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('notes', sa.String(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('port > 0 AND port < 65536', name=op.f('ck_servers_port_range')),
    sa.ForeignKeyConstraint(['credential_set_id'], ['credential_sets.id'], name=op.f('fk_servers_credential_set_id_credential_sets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['discovered_by_credential_set_id'], ['credential_sets.id'], name=op.f('fk_servers_discovered_by_credential_set_id_credential_sets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['discovery_job_id'], ['jobs.id'], name=op.f('fk_servers_discovery_job_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_servers')),
    sa.UniqueConstraint('ip_address', 'port', name=op.f('uq_servers_ip_address_port'))
    )
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_servers_credential_set_id'), ['credential_set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_discovered_by_credential_set_id'), ['discovered_by_credential_set_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_discovery_job_id'), ['discovery_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_hostname'), ['hostname'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_ip_address'), ['ip_address'], unique=False)
        batch_op.create_index(batch_op.f('ix_servers_service_tag'), ['service_tag'], unique=False)

    op.create_table('bios_configurations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('snapshot_type', sa.Enum('current', 'pending', 'baseline', name='snapshot_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('bios_version', sa.String(length=64), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('pending_attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('captured_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('notes', sa.String(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_bios_configurations_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_bios_configurations_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_bios_configurations_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bios_configurations'))
    )
    with op.batch_alter_table('bios_configurations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bios_configurations_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_bios_configurations_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bios_configurations_server_id'), ['server_id'], unique=False)

    op.create_table('firmware_inventory',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('inventory_id', sa.String(length=255), nullable=False),
    sa.Column('fqdd', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('component_id', sa.String(length=32), nullable=True),
    sa.Column('component_type', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('updateable', sa.Boolean(), nullable=True),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('collected_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_firmware_inventory_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_firmware_inventory')),
    sa.UniqueConstraint('server_id', 'inventory_id', name=op.f('uq_firmware_inventory_server_id_inventory_id'))
    )
    with op.batch_alter_table('firmware_inventory', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_firmware_inventory_component_id'), ['component_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_firmware_inventory_server_id'), ['server_id'], unique=False)

    op.create_table('scp_backups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('backup_name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(), nullable=True),
    sa.Column('scp_content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('scp_file_path', sa.String(), nullable=True),
    sa.Column('scp_file_size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('checksum', sa.String(length=128), nullable=True),
    sa.Column('export_format', sa.String(length=8), nullable=False),
    sa.Column('include_bios', sa.Boolean(), nullable=False),
    sa.Column('include_idrac', sa.Boolean(), nullable=False),
    sa.Column('include_nic', sa.Boolean(), nullable=False),
    sa.Column('include_raid', sa.Boolean(), nullable=False),
    sa.Column('is_valid', sa.Boolean(), nullable=False),
    sa.Column('validation_errors', sa.String(), nullable=True),
    sa.Column('exported_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('export_job_id', sa.Uuid(), nullable=True),
    sa.Column('last_imported_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('import_job_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_scp_backups_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['export_job_id'], ['jobs.id'], name=op.f('fk_scp_backups_export_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['import_job_id'], ['jobs.id'], name=op.f('fk_scp_backups_import_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_scp_backups_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scp_backups'))
    )
    with op.batch_alter_table('scp_backups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scp_backups_created_by'), ['created_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_scp_backups_export_job_id'), ['export_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scp_backups_import_job_id'), ['import_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scp_backups_server_id'), ['server_id'], unique=False)

    op.create_table('server_boot_config_history',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('boot_mode', sa.String(length=32), nullable=True),
    sa.Column('boot_source_override_enabled', sa.String(length=32), nullable=True),
    sa.Column('boot_source_override_target', sa.String(length=64), nullable=True),
    sa.Column('boot_order', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_server_boot_config_history_changed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_server_boot_config_history_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_server_boot_config_history_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_boot_config_history'))
    )
    with op.batch_alter_table('server_boot_config_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_boot_config_history_changed_by'), ['changed_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_boot_config_history_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_boot_config_history_server_id'), ['server_id'], unique=False)

    op.create_table('server_event_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('log_type', sa.String(length=16), nullable=False),
    sa.Column('timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('message', sa.String(), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('sensor_type', sa.String(length=64), nullable=True),
    sa.Column('sensor_number', sa.String(length=32), nullable=True),
    sa.Column('raw_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_server_event_logs_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_event_logs')),
    sa.UniqueConstraint('server_id', 'log_type', 'event_id', name=op.f('uq_server_event_logs_server_id_log_type_event_id'))
    )
    with op.batch_alter_table('server_event_logs', schema=None) as batch_op:
        batch_op.create_index('ix_server_event_logs_server_id_timestamp', ['server_id', 'timestamp'], unique=False)

    op.create_table('server_group_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_group_id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('added_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['server_group_id'], ['server_groups.id'], name=op.f('fk_server_group_members_server_group_id_server_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_server_group_members_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_group_members')),
    sa.UniqueConstraint('server_group_id', 'server_id', name=op.f('uq_server_group_members_server_group_id_server_id'))
    )
    with op.batch_alter_table('server_group_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_group_members_server_group_id'), ['server_group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_group_members_server_id'), ['server_id'], unique=False)

    op.create_table('server_health',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('overall_health', sa.String(length=32), nullable=True),
    sa.Column('power_state', sa.String(length=32), nullable=True),
    sa.Column('cpu_health', sa.String(length=32), nullable=True),
    sa.Column('memory_health', sa.String(length=32), nullable=True),
    sa.Column('storage_health', sa.String(length=32), nullable=True),
    sa.Column('fan_health', sa.String(length=32), nullable=True),
    sa.Column('psu_health', sa.String(length=32), nullable=True),
    sa.Column('network_health', sa.String(length=32), nullable=True),
    sa.Column('temperature_celsius', sa.Float(), nullable=True),
    sa.Column('sensors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_server_health_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_server_health_server_id_servers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_health'))
    )
    with op.batch_alter_table('server_health', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_health_job_id'), ['job_id'], unique=False)
        batch_op.create_index('ix_server_health_server_id_timestamp', ['server_id', 'timestamp'], unique=False)

    op.create_table('vcenter_hosts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('vcenter_id', sa.Uuid(), nullable=True),
    sa.Column('moref', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('datacenter', sa.String(length=255), nullable=True),
    sa.Column('cluster', sa.String(length=255), nullable=True),
    sa.Column('serial_number', sa.String(length=64), nullable=True),
    sa.Column('server_id', sa.Uuid(), nullable=True),
    sa.Column('esxi_version', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('connection_state', sa.String(length=32), nullable=True),
    sa.Column('maintenance_mode', sa.Boolean(), nullable=False),
    sa.Column('last_sync', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_vcenter_hosts_server_id_servers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vcenter_id'], ['vcenters.id'], name=op.f('fk_vcenter_hosts_vcenter_id_vcenters'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vcenter_hosts')),
    sa.UniqueConstraint('server_id', name=op.f('uq_vcenter_hosts_server_id')),
    sa.UniqueConstraint('vcenter_id', 'moref', name=op.f('uq_vcenter_hosts_vcenter_id_moref'))
    )
    with op.batch_alter_table('vcenter_hosts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vcenter_hosts_cluster'), ['cluster'], unique=False)
        batch_op.create_index(batch_op.f('ix_vcenter_hosts_serial_number'), ['serial_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_vcenter_hosts_vcenter_id'), ['vcenter_id'], unique=False)

    op.create_table('virtual_media_sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=False),
    sa.Column('media_type', sa.Enum('CD', 'DVD', 'Floppy', 'USBStick', name='media_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('image_name', sa.String(length=255), nullable=False),
    sa.Column('remote_image_url', sa.String(), nullable=False),
    sa.Column('is_mounted', sa.Boolean(), nullable=False),
    sa.Column('inserted', sa.Boolean(), nullable=False),
    sa.Column('write_protected', sa.Boolean(), nullable=False),
    sa.Column('share_username', sa.String(length=100), nullable=True),
    sa.Column('share_password_sealed', sa.String(), nullable=True),
    sa.Column('mount_job_id', sa.Uuid(), nullable=True),
    sa.Column('unmount_job_id', sa.Uuid(), nullable=True),
    sa.Column('mounted_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('unmounted_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['mount_job_id'], ['jobs.id'], name=op.f('fk_virtual_media_sessions_mount_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_virtual_media_sessions_server_id_servers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unmount_job_id'], ['jobs.id'], name=op.f('fk_virtual_media_sessions_unmount_job_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtual_media_sessions'))
    )
    with op.batch_alter_table('virtual_media_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_virtual_media_sessions_mount_job_id'), ['mount_job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_virtual_media_sessions_server_id'), ['server_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_virtual_media_sessions_unmount_job_id'), ['unmount_job_id'], unique=False)

    op.create_table('job_tasks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=True),
    sa.Column('vcenter_host_id', sa.Uuid(), nullable=True),
    sa.Column('target', sa.String(length=255), nullable=True),
    sa.Column('status', sa.Enum('pending', 'running', 'completed', 'failed', 'cancelled', name='job_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('log', sa.String(), nullable=True),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('started_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('completed_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_tasks_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_job_tasks_server_id_servers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vcenter_host_id'], ['vcenter_hosts.id'], name=op.f('fk_job_tasks_vcenter_host_id_vcenter_hosts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_tasks'))
    )
    with op.batch_alter_table('job_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_job_tasks_job_id_status', ['job_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_tasks_server_id'), ['server_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_tasks_vcenter_host_id'), ['vcenter_host_id'], unique=False)

    op.create_table('workflow_executions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_type', sa.Enum('rolling_cluster_update', 'prepare_host_for_update', 'verify_host_after_update', name='workflow_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('step_number', sa.Integer(), nullable=False),
    sa.Column('step_name', sa.String(length=64), nullable=False),
    sa.Column('step_status', sa.Enum('pending', 'running', 'completed', 'failed', 'skipped', name='step_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('step_details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('step_error', sa.String(), nullable=True),
    sa.Column('server_id', sa.Uuid(), nullable=True),
    sa.Column('host_id', sa.Uuid(), nullable=True),
    sa.Column('cluster_id', sa.String(length=255), nullable=True),
    sa.Column('step_started_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('step_completed_at', dsm_core.db.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['host_id'], ['vcenter_hosts.id'], name=op.f('fk_workflow_executions_host_id_vcenter_hosts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_workflow_executions_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_workflow_executions_server_id_servers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_executions'))
    )
    with op.batch_alter_table('workflow_executions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workflow_executions_host_id'), ['host_id'], unique=False)
        batch_op.create_index('ix_workflow_executions_job_id_step_number', ['job_id', 'step_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_workflow_executions_server_id'), ['server_id'], unique=False)

    op.create_table('idrac_commands',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('timestamp', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.Column('server_id', sa.Uuid(), nullable=True),
    sa.Column('job_id', sa.Uuid(), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('command_type', sa.String(length=10), nullable=False),
    sa.Column('operation_type', sa.Enum('idrac_api', 'vcenter_api', 'openmanage_api', name='operation_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('endpoint', sa.String(), nullable=False),
    sa.Column('full_url', sa.String(), nullable=False),
    sa.Column('request_headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('request_body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('response_body', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_time_ms', sa.Integer(), nullable=True),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('error_message', sa.String(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('initiated_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', dsm_core.db.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['initiated_by'], ['users.id'], name=op.f('fk_idrac_commands_initiated_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_idrac_commands_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['server_id'], ['servers.id'], name=op.f('fk_idrac_commands_server_id_servers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id'], ['job_tasks.id'], name=op.f('fk_idrac_commands_task_id_job_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idrac_commands'))
    )
    with op.batch_alter_table('idrac_commands', schema=None) as batch_op:
        batch_op.create_index('ix_idrac_commands_job_id', ['job_id'], unique=False)
        batch_op.create_index('ix_idrac_commands_server_id_timestamp', ['server_id', 'timestamp'], unique=False)
        batch_op.create_index('ix_idrac_commands_timestamp_id', ['timestamp', 'id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('idrac_commands', schema=None) as batch_op:
        batch_op.drop_index('ix_idrac_commands_timestamp_id')
        batch_op.drop_index('ix_idrac_commands_server_id_timestamp')
        batch_op.drop_index('ix_idrac_commands_job_id')

    op.drop_table('idrac_commands')
    with op.batch_alter_table('workflow_executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_workflow_executions_server_id'))
        batch_op.drop_index('ix_workflow_executions_job_id_step_number')
        batch_op.drop_index(batch_op.f('ix_workflow_executions_host_id'))

    op.drop_table('workflow_executions')
    with op.batch_alter_table('job_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_tasks_vcenter_host_id'))
        batch_op.drop_index(batch_op.f('ix_job_tasks_server_id'))
        batch_op.drop_index('ix_job_tasks_job_id_status')

    op.drop_table('job_tasks')
    with op.batch_alter_table('virtual_media_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_virtual_media_sessions_unmount_job_id'))
        batch_op.drop_index(batch_op.f('ix_virtual_media_sessions_server_id'))
        batch_op.drop_index(batch_op.f('ix_virtual_media_sessions_mount_job_id'))

    op.drop_table('virtual_media_sessions')
    with op.batch_alter_table('vcenter_hosts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vcenter_hosts_vcenter_id'))
        batch_op.drop_index(batch_op.f('ix_vcenter_hosts_serial_number'))
        batch_op.drop_index(batch_op.f('ix_vcenter_hosts_cluster'))

    op.drop_table('vcenter_hosts')
    with op.batch_alter_table('server_health', schema=None) as batch_op:
        batch_op.drop_index('ix_server_health_server_id_timestamp')
        batch_op.drop_index(batch_op.f('ix_server_health_job_id'))

    op.drop_table('server_health')
    with op.batch_alter_table('server_group_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_group_members_server_id'))
        batch_op.drop_index(batch_op.f('ix_server_group_members_server_group_id'))

    op.drop_table('server_group_members')
    with op.batch_alter_table('server_event_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_server_event_logs_server_id_timestamp')

    op.drop_table('server_event_logs')
    with op.batch_alter_table('server_boot_config_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_boot_config_history_server_id'))
        batch_op.drop_index(batch_op.f('ix_server_boot_config_history_job_id'))
        batch_op.drop_index(batch_op.f('ix_server_boot_config_history_changed_by'))

    op.drop_table('server_boot_config_history')
    with op.batch_alter_table('scp_backups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scp_backups_server_id'))
        batch_op.drop_index(batch_op.f('ix_scp_backups_import_job_id'))
        batch_op.drop_index(batch_op.f('ix_scp_backups_export_job_id'))
        batch_op.drop_index(batch_op.f('ix_scp_backups_created_by'))

    op.drop_table('scp_backups')
    with op.batch_alter_table('firmware_inventory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_firmware_inventory_server_id'))
        batch_op.drop_index(batch_op.f('ix_firmware_inventory_component_id'))

    op.drop_table('firmware_inventory')
    with op.batch_alter_table('bios_configurations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bios_configurations_server_id'))
        batch_op.drop_index(batch_op.f('ix_bios_configurations_job_id'))
        batch_op.drop_index(batch_op.f('ix_bios_configurations_created_by'))

    op.drop_table('bios_configurations')
    with op.batch_alter_table('servers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_servers_service_tag'))
        batch_op.drop_index(batch_op.f('ix_servers_ip_address'))
        batch_op.drop_index(batch_op.f('ix_servers_hostname'))
        batch_op.drop_index(batch_op.f('ix_servers_discovery_job_id'))
        batch_op.drop_index(batch_op.f('ix_servers_discovered_by_credential_set_id'))
        batch_op.drop_index(batch_op.f('ix_servers_credential_set_id'))

    op.drop_table('servers')
    with op.batch_alter_table('server_group_safety_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_group_safety_checks_scheduled_check_id'))
        batch_op.drop_index(batch_op.f('ix_server_group_safety_checks_job_id'))
        batch_op.drop_index('ix_server_group_safety_checks_group_timestamp')

    op.drop_table('server_group_safety_checks')
    with op.batch_alter_table('notification_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_logs_job_id'))

    op.drop_table('notification_logs')
    with op.batch_alter_table('cluster_safety_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_safety_checks_vcenter_id'))
        batch_op.drop_index(batch_op.f('ix_cluster_safety_checks_scheduled_check_id'))
        batch_op.drop_index(batch_op.f('ix_cluster_safety_checks_job_id'))
        batch_op.drop_index('ix_cluster_safety_checks_cluster_id_check_timestamp')

    op.drop_table('cluster_safety_checks')
    with op.batch_alter_table('server_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_groups_created_by'))

    op.drop_table('server_groups')
    with op.batch_alter_table('maintenance_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_windows_status_planned_start')
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_created_by'))
        batch_op.drop_index(batch_op.f('ix_maintenance_windows_approved_by'))

    op.drop_table('maintenance_windows')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_updated_at')
        batch_op.drop_index('ix_jobs_status_created_at')
        batch_op.drop_index(batch_op.f('ix_jobs_parent_job_id'))
        batch_op.drop_index(batch_op.f('ix_jobs_created_by'))

    op.drop_table('jobs')
    with op.batch_alter_table('credential_ip_ranges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credential_ip_ranges_credential_set_id'))

    op.drop_table('credential_ip_ranges')
    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_logs_user_id'))
        batch_op.drop_index('ix_audit_logs_timestamp')

    op.drop_table('audit_logs')
    with op.batch_alter_table('worker_heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_heartbeats_last_beat_at')

    op.drop_table('worker_heartbeats')
    op.drop_table('virtual_media_settings')
    op.drop_table('vcenters')
    op.drop_table('users')
    op.drop_table('scheduled_safety_checks')
    op.drop_table('openmanage_settings')
    op.drop_table('notification_settings')
    op.drop_table('network_settings')
    op.drop_table('firmware_repositories')
    op.drop_table('credential_sets')
    op.drop_table('activity_settings')

