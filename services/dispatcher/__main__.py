from services.dispatcher.main import create_app
from services.dispatcher.settings import DispatcherSettings
from shared.service import run_service

settings = DispatcherSettings()
run_service(create_app(settings), settings)
